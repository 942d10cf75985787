"""One run of the kit against one target: set up its world, learn its limits, run each
rule in order and keep what happened (`Result`).

Rules run one after another: each has its own users and chats, so none depends on
another, but they share the target's clock and (with a fixture) its users. A rule ends
"passed", "failed" (the target broke it, or did not answer in time) or "not run" (it
needs what the target or the fixture lacks, with the reason).
"""

from __future__ import annotations

import asyncio
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from conformance import __version__
from conformance.check import PAGE, Check, Kit, Limits
from conformance.http import REQUEST_TIMEOUT_S, Rest, Unreachable
from conformance.registry import Rule
from conformance.rules import RULES, ordered
from conformance.sockets import SocketOptions, default_path
from conformance.specs import Contract
from conformance.trace import NotRun, RuleFailed, Trace, current, shown
from conformance.world import DevWorld, FixtureWorld, SetupError, World, read_fixture

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"
RULE_TIMEOUT_S = 60.0
KIT_ERROR_CHARS = 3000


@dataclass
class Options:
    base_url: str
    fixture: Path | None = None
    only: tuple[str, ...] = ()
    sockets: SocketOptions | None = None
    rule_timeout_s: float = RULE_TIMEOUT_S
    sandbox: str | None = None


@dataclass
class Outcome:
    rule: Rule
    status: str
    message: str = ""
    seconds: float = 0.0
    trace: Trace = field(default_factory=Trace)
    # the kit itself failed (an exception no rule expected): worth a bug report to the kit
    kit_error: bool = False


@dataclass
class Result:
    base_url: str
    world: dict[str, Any]
    limits: Limits
    limits_from: str
    started_at: str
    seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    kit_version: str = __version__

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        return 1 if self.count(FAILED) else 0


def selected(only: tuple[str, ...]) -> list[Rule]:
    """The rules to run: all, or those whose id starts with one of `only`."""
    rules = ordered(RULES)
    if not only:
        return rules
    chosen = [
        r for r in rules if any(r.id == o or r.id.startswith(o.rstrip(".") + ".") for o in only)
    ]
    if not chosen:
        raise SetupError(f"no rule matches {', '.join(only)}")
    return chosen


async def learn_limits(world: World) -> tuple[Limits, str]:
    """The limits the target reports, or the page's with the reason they are used."""
    trace_token = current.set(Trace())
    try:
        (user,) = await world.users(1)
        reply = await user.get("/api/chat/config")
        if reply.status != 200:
            return PAGE, f"GET /api/chat/config answered {reply.status}: using the page's values"
        return Limits.from_config(reply.data), "config"
    except (RuleFailed, NotRun, KeyError, TypeError, ValueError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return PAGE, f"GET /api/chat/config is not usable ({why}): using the page's values"
    finally:
        current.reset(trace_token)


async def run_rule(rule: Rule, kit: Kit, timeout_s: float) -> Outcome:
    trace = Trace()
    token = current.set(trace)
    check = Check(kit, trace)
    started = time.monotonic()
    outcome = Outcome(rule, PASSED, trace=trace)
    try:
        for capability in rule.needs:
            check.require(capability)
        await asyncio.wait_for(rule.check(check), timeout_s)
        trace.raise_breaches()
    except NotRun as exc:
        outcome.status, outcome.message = NOT_RUN, str(exc)
    except RuleFailed as exc:
        outcome.status, outcome.message = FAILED, str(exc)
    except TimeoutError:
        outcome.status, outcome.message = FAILED, f"the rule did not finish within {timeout_s:g} s"
    except Unreachable as exc:
        outcome.status, outcome.message = FAILED, f"the target stopped answering: {exc}"
    except Exception:
        outcome.status, outcome.kit_error = FAILED, True
        failure = shown(traceback.format_exc(limit=6), KIT_ERROR_CHARS)
        outcome.message = "the kit failed while checking this rule:\n" + failure
    finally:
        await check.close()
        current.reset(token)
    outcome.seconds = time.monotonic() - started
    return outcome


async def run(options: Options) -> Result:
    """Run the selected rules against `options.base_url`; SetupError when it cannot start."""
    rules = selected(options.only)
    contract = Contract.load()
    fixture = read_fixture(options.fixture) if options.fixture else None
    sockets = options.sockets or SocketOptions(path=default_path(options.base_url))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=timeout) as session:
        rest = Rest(options.base_url, contract, session)
        try:
            await rest.request("GET", "/api/chat/config", check=False)
        except Unreachable as exc:
            raise SetupError(f"cannot reach {options.base_url}: {exc.__cause__ or exc}") from None
        world: World = FixtureWorld(rest, fixture) if fixture else DevWorld(rest, options.sandbox)
        await world.start()
        try:
            limits, limits_from = await learn_limits(world)
            rule_timeout = options.rule_timeout_s
            if isinstance(world, FixtureWorld):
                world.set_allowances(limits.rate_messages, limits.rate_chats, limits.window_s)
                rule_timeout += limits.window_s  # a rule may wait for its users' allowances
            kit = Kit(contract, rest, world, sockets, limits, limits_from)
            result = Result(options.base_url, {}, limits, limits_from, started_at)
            for rule in rules:
                result.outcomes.append(await run_rule(rule, kit, rule_timeout))
            result.world = world.describe()
        finally:
            await world.close()
    result.seconds = time.monotonic() - started
    return result
