"""The conformance kit in a notebook: a run against a server, and two runs side by side.

Runs go through the kit's own Python API (`conformance.runner.run`, what
`chat-api conformance` calls) and show what its reports show, minus what would change on
every run: times, ports, ids and the sandbox's random name.
"""

from __future__ import annotations

import textwrap

from conformance.registry import SECTIONS
from conformance.runner import FAILED, Options, Result, run
from conformance.specs import Contract

from .display import Aliases, table

STATUSES = ("passed", "failed", "not run")


async def check(url: str) -> Result:
    """Run every rule of the kit against the server at `url`."""
    return await run(Options(url))


def counts(result: Result, section: str | None = None) -> str:
    found = [o for o in result.outcomes if section is None or o.rule.section == section]
    return ", ".join(
        f"{sum(o.status == s for o in found)} {s}"
        for s in STATUSES
        if any(o.status == s for o in found)
    )


def side_by_side(left: Result, right: Result, names: tuple[str, str]) -> None:
    """Per section, how the rules of each run ended."""
    rows = [(SECTIONS[s], counts(left, s), counts(right, s)) for s in SECTIONS]
    rows.append(("all rules", counts(left), counts(right)))
    table(rows, ["section", *names])


def differences(left: Result, right: Result, names: tuple[str, str]) -> None:
    """The rules that ended otherwise in the second run, each with its one-line reason."""
    theirs = {o.rule.id: o for o in right.outcomes}
    aliases = Aliases()
    for ours in left.outcomes:
        other = theirs[ours.rule.id]
        if other.status != ours.status:
            print(f"{ours.rule.id}: {names[0]} {ours.status}, {names[1]} {other.status}")
            reason = aliases.text(other.message.strip().splitlines()[0])
            print(textwrap.indent(textwrap.fill(reason, 88), "    "))


def failure(result: Result, rule_id: str) -> None:
    """What the HTML report shows of one failed rule: the rule, the spec passage it
    checks, why it failed, and the last request and answer it made."""
    outcome = next(o for o in result.outcomes if o.rule.id == rule_id)
    assert outcome.status == FAILED, outcome.status
    aliases = Aliases()
    rule = outcome.rule
    print(f"{rule.id}: {rule.statement}\n")
    print(f"from {rule.source.reference}:")
    print(textwrap.indent(textwrap.fill(Contract.load().passage(rule.source), 88), "    "))
    print("\nfailed:")
    print(textwrap.indent(textwrap.fill(aliases.text(outcome.message), 88), "    "))
    last = outcome.trace.exchanges[-1]
    print(f"\nlast exchange: {aliases.text(last.line)} ({last.operation}) -> {last.status}")
    print(aliases.text(last.response_body)[:600])
