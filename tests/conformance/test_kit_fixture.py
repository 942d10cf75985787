"""Fixture mode: the kit against this server with its dev endpoints off, acting only as
the users of a fixture file, calls no dev endpoint, reports the rules that need a movable
clock or a world of its own "not run" with the reason, and passes every other rule.

The product cannot start with the embedded store and the dev endpoints off from the
command line (`CHAT_DEV` only turns them on), so the server is built in process with
`Settings(dev=False)`; its users are written through the app's own store and their
tokens signed with its settings, as an operator of a staging deployment would provision
them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.registry import RULES
from conformance.runner import FAILED, NOT_RUN, PASSED, Options, Result, run
from conformance.world import ADMIN, CLOCK, RESET, SetupError
from impl.app import ChatApp, create_app
from impl.domain.dev import new_user
from impl.domain.services import Call
from impl.settings import Settings
from impl.tokens import issue_token
from inprocess import served

# enough users that the kit need not wait for their allowances (docs/conformance.md)
CAST = [(name, "user") for name in ("Ann", "Ben", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal")]
AGENTS = [("Sam", "support"), ("Ada", "admin")]


@dataclass
class Seen:
    """Every request path the server was asked for."""

    paths: list[str]

    def layer(self, inner: ASGIApp) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] in ("http", "websocket"):
                self.paths.append(scope["path"])
            await inner(scope, receive, send)

        return app


@pytest.fixture(scope="module")
def app() -> Iterator[ChatApp]:
    built = create_app(Settings(dev=False))
    yield built
    built.close()


def write_fixture(app: ChatApp, folder: Path, cast: list[tuple[str, str]]) -> Path:
    settings = app.services.settings
    users = []
    for name, role in cast:
        user = new_user(Call(app.services), name, role)
        users.append(
            {
                "id": str(user["_id"]),
                "role": role,
                "name": name,
                "token": issue_token(settings, user["_id"]),
            }
        )
    path = folder / "users.json"
    path.write_text(json.dumps({"users": users}, indent=2), encoding="utf-8")
    return path


@pytest.fixture
async def seen(app: ChatApp) -> AsyncIterator[Seen]:
    spy = Seen([])
    inner = app.asgi
    app.asgi = spy.layer(inner)
    yield spy
    app.asgi = inner


async def run_against(app: ChatApp, fixture: Path, *only: str) -> Result:
    async with served(app) as server:
        return await run(Options(server.url, fixture=fixture, only=only))


def needing(*capabilities: str) -> set[str]:
    return {r.id for r in RULES.values() if set(r.needs) & set(capabilities)}


async def test_fixture_mode_reports_clock_and_reset_rules_not_run_and_passes_the_rest(
    app: ChatApp, tmp_path: Path, seen: Seen
) -> None:
    result = await run_against(app, write_fixture(app, tmp_path, CAST + AGENTS))
    by_status = {
        s: {o.rule.id for o in result.outcomes if o.status == s} for s in (PASSED, FAILED, NOT_RUN)
    }
    failures = {o.rule.id: o.message for o in result.outcomes if o.status == FAILED}
    assert not failures, failures
    assert by_status[NOT_RUN] == needing(CLOCK, RESET)
    assert {
        "limits.edit-window",
        "limits.rate.window-slides",
        "chats.support.pool-exact",
    } <= by_status[NOT_RUN]
    for outcome in result.outcomes:
        if outcome.status == NOT_RUN:
            assert "clock" in outcome.message or "a world whose every user" in outcome.message
    assert "limits.rate.limit-plus-one" in by_status[PASSED]
    assert not [p for p in seen.paths if p.startswith("/api/dev")]
    assert result.world["mode"] == "fixture"
    assert result.world["waitedSeconds"] == 0


async def test_without_dev_endpoints_or_a_fixture_the_kit_cannot_start(app: ChatApp) -> None:
    async with served(app) as server:
        with pytest.raises(SetupError, match=r"no dev endpoints .* run with --fixture"):
            await run(Options(server.url))


async def test_without_an_admin_the_admin_rules_are_not_run(app: ChatApp, tmp_path: Path) -> None:
    admin_rules = needing(ADMIN)
    result = await run_against(app, write_fixture(app, tmp_path, CAST), *sorted(admin_rules))
    assert {o.rule.id: (o.status, o.message) for o in result.outcomes} == {
        rule: (NOT_RUN, "the fixture has no user of role admin") for rule in admin_rules
    }


async def test_with_three_users_the_rate_limit_rule_is_not_run(
    app: ChatApp, tmp_path: Path
) -> None:
    result = await run_against(
        app, write_fixture(app, tmp_path, CAST[:3]), "limits.rate.limit-plus-one"
    )
    (outcome,) = result.outcomes
    assert outcome.status == NOT_RUN
    assert "at least 4 users of role user" in outcome.message
