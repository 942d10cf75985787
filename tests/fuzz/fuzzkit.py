"""What the fuzz tests share: the hypothesis budgets, a seeded app ("world") whose ids the
generated requests are pinned to, the Schemathesis configuration built from
`schemathesis.toml` plus those ids, and the contract's own response checks.

Not a conftest on purpose: `tests/conftest.py` is imported as the module `conftest` by the
other test files, and a second conftest here would shadow it for them.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData, Failure
from schemathesis.python import asgi
from schemathesis.specs.openapi import checks as openapi_checks
from schemathesis.specs.openapi.schemas import OpenApiSchema
from schemathesis.transport.serialization import Binary

from impl.app import ChatApp, create_app
from impl.clock import Clock, TimeSource, real_time, to_millis
from impl.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# ---- Budgets -------------------------------------------------------------------------
# `ci` (the default) keeps `tox -e fuzz` within a few minutes on two cores; `long`
# (`FUZZ_PROFILE=long`, `tox -e fuzz-long`) is for nightly or pre-release runs.

PROFILE = os.environ.get("FUZZ_PROFILE", "ci")


@dataclass(frozen=True)
class Budget:
    operation_examples: int  # fuzzing-phase cases per operation (schemathesis)
    stateful_examples: int  # state machine runs
    stateful_steps: int  # steps per state machine run
    property_examples: int  # examples per hypothesis property
    outside_seconds: int  # the time box of the outsider's CLI run (test_outside.py)
    hostile_batches: int  # batches of hostile dev-kit requests (test_hostile_kit.py)


BUDGETS = {
    "ci": Budget(
        operation_examples=50,
        stateful_examples=80,
        stateful_steps=20,
        property_examples=40,
        outside_seconds=20,
        hostile_batches=60,
    ),
    "long": Budget(
        operation_examples=500,
        stateful_examples=400,
        stateful_steps=40,
        property_examples=400,
        outside_seconds=180,
        hostile_batches=600,
    ),
}
BUDGET = BUDGETS[PROFILE]

_COMMON: dict[str, Any] = {
    "deadline": None,  # a whole app is built per example; wall time is not the property
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile(
    "ci", max_examples=BUDGETS["ci"].property_examples, database=None, print_blob=True, **_COMMON
)
settings.register_profile("long", max_examples=BUDGETS["long"].property_examples, **_COMMON)
settings.load_profile(PROFILE)


# ---- The seeded world ----------------------------------------------------------------

# The smallest file the server accepts as image/png: the bytes decide the type.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17


@dataclass
class Member:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    """An app seeded so that every pinned id is real and the caller may touch it.

    `owner` is the identity every generated request carries. It created `group` (so it may
    add and remove participants), wrote `editable` and `deletable`, and sent `file_id`.
    `peer` wrote `foreign` (a message `owner` may read and reply to but not edit).
    `outsider` is in no chat: `object_level_authorization` replays owner's reads as it.
    `spares` are users for `add_participant`; `spares[0]` is in the group so that
    `remove_participant` has someone to remove. `dev_target` is the user
    `PATCH /api/dev/users/{id}` changes: banning it harms nobody.
    """

    app: ChatApp
    owner: Member
    peer: Member
    outsider: Member
    spares: list[str]
    dev_target: str
    group: str
    editable: str
    deletable: str
    foreign: str
    file_id: str
    message_ids: list[str] = field(default_factory=list)


def fuzz_settings(**changes: Any) -> Settings:
    """The app's settings for fuzzing: response validation on, everything else default."""
    return Settings(validate_responses=True, **changes)


def build_world(settings_: Settings | None = None) -> World:
    app = create_app(settings_ or fuzz_settings())
    with asgi.get_client(app) as client:

        def user(name: str, role: str = "user") -> Member:
            r = client.post("/api/dev/users", json={"name": name, "role": role})
            assert r.status_code == 201, r.text
            data = r.json()["data"]
            return Member(data["user"]["_id"], data["token"])

        def call(who: Member, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            r = client.request(method, path, headers=who.headers, **kwargs)
            assert r.status_code in (200, 201), r.text
            data: dict[str, Any] = r.json()["data"]
            return data

        owner, peer, outsider = user("owner"), user("peer"), user("outsider")
        spares = [user(f"spare {i}").id for i in range(3)]
        dev_target = user("dev target").id
        group = call(
            owner,
            "POST",
            "/api/chat",
            json={"participantIds": [peer.id, spares[0]], "type": "group", "title": "fuzz"},
        )["chat"]["_id"]

        def send(who: Member, content: str) -> str:
            path = f"/api/chat/{group}/messages"
            message_id: str = call(who, "POST", path, json={"content": content})["message"]["_id"]
            return message_id

        editable, deletable = send(owner, "edit me"), send(owner, "delete me")
        foreign = send(peer, "from the peer")
        sent = call(
            owner,
            "POST",
            f"/api/chat/{group}/messages/file",
            files={"file": ("pixel.png", PNG, "image/png")},
            data={"content": "a picture"},
        )["message"]
        file_id = sent["attachments"][0]["fileId"]
    return World(
        app=app,
        owner=owner,
        peer=peer,
        outsider=outsider,
        spares=spares,
        dev_target=dev_target,
        group=group,
        editable=editable,
        deletable=deletable,
        foreign=foreign,
        file_id=file_id,
        message_ids=[editable, deletable, foreign, sent["_id"]],
    )


Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(app: ChatApp) -> Snapshot:
    """Every stored document of the app (the embedded store), to restore later."""
    db = app.services.store.db
    return {name: list(db[name].find({})) for name in db.list_collection_names()}


def restore(app: ChatApp, saved: Snapshot) -> None:
    """Put the store back exactly as `snapshot` saw it (same ids, same users, no more)."""
    db = app.services.store.db
    for name in db.list_collection_names():
        db[name].delete_many({})
    for name, docs in saved.items():
        if docs:
            db[name].insert_many(copy.deepcopy(docs))


# ---- Schemathesis configuration --------------------------------------------------------


def base_config() -> dict[str, Any]:
    with (ROOT / "schemathesis.toml").open("rb") as f:
        return tomllib.load(f)


# Every request goes out as `owner`; `object_level_authorization` replays each of owner's
# successful reads as `outsider` (a user in none of owner's chats) and fails if the
# outsider gets the same object.
PEERS = ["owner", "outsider"]


def wfc_document(world: World) -> Path:
    """The two identities as a Web Fuzzing Commons auth document (schemathesis reads it once,
    when the schema is loaded)."""
    entries = [
        {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {token}"}]}
        for name, token in (("owner", world.owner.token), ("outsider", world.outsider.token))
    ]
    fd, name = tempfile.mkstemp(prefix="chat-wfc-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"auth": entries}, f)
    return Path(name)


def config_for(
    world: World, identities: Path, *, max_examples: int, stateful: bool = False
) -> SchemathesisConfig:
    """`schemathesis.toml` plus the world: auth, pinned path ids, dictionaries of real ids.

    `stateful=True` (the state machine) leaves path parameters to the spec's links.
    """
    data = base_config()
    users = [world.owner.id, world.peer.id, *world.spares]
    data["auth"] = {"wfc": {"path": str(identities), "user": "owner", "peers": PEERS}}
    data.setdefault("generation", {})["max-examples"] = max_examples
    # Real ids that generated bodies and queries draw from half of the time, so that
    # requests get past "unknown id" to the rules behind it.
    data["dictionaries"] = {
        "users": {"values": users},
        "spares": {"values": world.spares},
        "messages": {"values": world.message_ids},
    }
    pinned_paths = {
        # Every chat-scoped path is the owner's group chat (the owner created it).
        "path.id": world.group,
        "path.messageId": world.editable,
        "path.participantId": world.spares[0],
        "path.fileId": world.file_id,
    }
    # The state machine only gets somewhere from chats that were created; the random
    # parametrized run also probes unknown users (404) half of the time.
    real = 1.0 if stateful else 0.5
    data["parameters"] = {
        **({} if stateful else pinned_paths),
        "body.participantIds[*]": {"dictionary": "users", "probability": real},
        "body.sellerId": {"dictionary": "users", "probability": real},
        # In the state machine `ensure_resource_availability` reads a 404 that follows a
        # link as "the chat just created is gone", but the contract also answers 404 for a
        # well-formed id of no user (`NOT_FOUND`, as for `POST /api/chat`). Adding only
        # users that exist keeps the check sharp: a 404 there can only mean a lost chat.
        "body.userId": {"dictionary": "spares", "probability": 1.0 if stateful else 0.5},
        "body.replyToMessageId": {"dictionary": "messages", "probability": 0.5},
        "body.messageIds[*]": {"dictionary": "messages", "probability": 0.5},
        "query.before": {"dictionary": "messages", "probability": 0.3},
    }
    if not stateful:
        data.setdefault("operations", []).extend(
            [
                # Deleting is fuzzed on a message of its own, so editing keeps a live one.
                {
                    "include-operation-id": "delete_message",
                    "parameters": {"messageId": world.deletable},
                },
                # The dev user endpoint changes (and may ban) a user that is in no chat.
                {"include-operation-id": "update_dev_user", "parameters": {"id": world.dev_target}},
            ]
        )
    return SchemathesisConfig.from_dict(data, base_dir=str(ROOT))


def load_schema(world: World, *, max_examples: int, stateful: bool = False) -> OpenApiSchema:
    identities = wfc_document(world)
    try:
        config = config_for(world, identities, max_examples=max_examples, stateful=stateful)
        schema = schemathesis.openapi.from_asgi("/openapi.json", world.app, config=config)
    finally:
        identities.unlink()
    schema.hook("filter_failure")(valid_multipart_is_not_negative)
    return schema


def valid_multipart_is_not_negative(
    context: schemathesis.HookContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    """Drop `negative_data_rejection`'s report only where its own test says "valid as sent".

    On the wire a multipart text field is text: a `content` generated as `false` arrives as
    the string "false", which the schema allows, so accepting it is right. Schemathesis
    knows this and re-validates the fields as sent, but in 4.32.5 that re-validation hands
    the file part (a `Binary`) to jsonschema-rs, which raises "Unsupported type: 'Binary'",
    and the error is read as "invalid". Re-running the same test with the file part as a
    plain string (the schema says `type: string`) gives the verdict the tool meant to give.
    Every other failure, and this one when the body as sent is in fact invalid, is kept.
    """
    if not isinstance(failure, AcceptedNegativeData) or not isinstance(case.body, dict):
        return True
    if not any(isinstance(value, Binary) for value in case.body.values()):
        return True  # no file part: schemathesis judged it as designed
    # (`Binary` is a `str` subclass whose text is "": tell it apart by type, not by value.)
    as_sent = {k: "" if isinstance(v, Binary) else v for k, v in case.body.items()}
    view = SimpleNamespace(
        body=as_sent,
        operation=case.operation,
        meta=case.meta,
        media_type=case.media_type,
        get_container=case.get_container,
    )
    return not openapi_checks._body_negation_becomes_valid_after_serialization(response, view)


# ---- The contract's own checks (registered for every schemathesis run in the process) ---

SCREAMING_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
PROBLEM_MEMBERS = ("type", "title", "detail")


def _header(response: schemathesis.Response, name: str) -> str:
    values = response.headers.get(name.lower()) or [""]
    return str(values[0])


def _has_body(response: schemathesis.Response) -> bool:
    return response.request.method != "HEAD" and response.status_code != 304


@schemathesis.check
def problem_document(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 4xx/5xx is the contract's RFC 9457 document with `success: false` and a code."""
    if response.status_code < 400 or not _has_body(response):
        return None
    media_type = _header(response, "content-type").split(";")[0].strip()
    assert media_type == "application/problem+json", f"error served as {media_type!r}"
    body = response.json()
    assert isinstance(body, dict), "the problem document is not a JSON object"
    assert body.get("success") is False, "a problem document carries success: false"
    assert body.get("status") == response.status_code, "`status` differs from the HTTP status"
    for member in PROBLEM_MEMBERS:
        assert isinstance(body.get(member), str), f"`{member}` is missing or not a string"
    code = body.get("code")
    assert isinstance(code, str) and SCREAMING_SNAKE.match(code), f"bad code {code!r}"
    assert "Traceback" not in response.text, "a stack trace reached the client"
    if response.status_code == 401:
        challenge = _header(response, "www-authenticate")
        assert challenge.startswith("Bearer"), "401 without WWW-Authenticate: Bearer"
    return None


# Answered with a document a tool reads as it is, not in the envelope: the HAR export.
DOCUMENT_PATHS = frozenset({"/api/dev/requests.har"})


@schemathesis.check
def success_envelope(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 2xx JSON body is `{"success": true, "data": {...}}`, but a document tools read
    as it is (`DOCUMENT_PATHS`)."""
    if not 200 <= response.status_code < 300 or not _has_body(response):
        return None
    if case.operation.path in DOCUMENT_PATHS:
        return None
    media_type = _header(response, "content-type").split(";")[0].strip()
    if media_type != "application/json":
        return None  # attachments are served as their own type
    body = response.json()
    assert isinstance(body, dict), "the body is not a JSON object"
    assert body.get("success") is True, "a success carries success: true"
    assert isinstance(body.get("data"), dict), "a success carries a `data` object"
    return None


# ---- In-process async client for the property tests ------------------------------------


def frozen_time() -> TimeSource:
    """Time without real time in it: only `POST /api/dev/clock` moves the server's clock.

    Property tests model time in the whole seconds they advance the dev clock by; the few
    milliseconds of real time a request takes would otherwise blur every boundary they
    aim at (a message exactly 60 s old, two messages in the same millisecond).
    """
    start = to_millis(datetime.now(UTC))
    return lambda: start


class SwitchedTime:
    """The time source a shared app's clock reads: real time unless a run sets another."""

    def __init__(self) -> None:
        self.current: TimeSource = real_time

    def __call__(self) -> datetime:
        return self.current()


class Api:
    """Named calls over the REST API of one in-process app."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def user(self, name: str, role: str = "user") -> Member:
        r = await self.client.post("/api/dev/users", json={"name": name, "role": role})
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        return Member(data["user"]["_id"], data["token"])

    async def advance(self, seconds: int) -> None:
        if seconds:
            r = await self.client.post("/api/dev/clock", json={"advanceSeconds": seconds})
            assert r.status_code == 200, r.text

    async def call(self, who: Member, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**who.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def data(self, who: Member, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The `data` of a call that must succeed."""
        r = await self.call(who, method, path, **kwargs)
        assert r.status_code in (200, 201), r.text
        body = r.json()
        assert body["success"] is True
        data: dict[str, Any] = body["data"]
        return data

    async def chat(self, creator: Member, *others: Member, kind: str = "group") -> str:
        body: dict[str, Any] = {"participantIds": [o.id for o in others], "type": kind}
        if kind == "group":
            body["title"] = "property"
        chat_id: str = (await self.data(creator, "POST", "/api/chat", json=body))["chat"]["_id"]
        return chat_id

    async def history(self, who: Member, chat_id: str) -> list[dict[str, Any]]:
        """Every message of a chat, newest first, over as many pages as it takes."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"limit": 100, "page": page}
            data = await self.data(who, "GET", f"/api/chat/{chat_id}/messages", params=params)
            found += data["messages"]
            if page >= data["pagination"]["pages"]:
                return found
            page += 1


@dataclass(frozen=True)
class SharedApp:
    app: ChatApp
    clock: Clock
    time: SwitchedTime


_shared_apps: dict[Settings, SharedApp] = {}


def shared_app(settings_: Settings) -> SharedApp:
    """One app per settings for the whole run, with the clock it was handed: building one
    costs about 0.3 s, more than most examples take; `run_app` empties it before each."""
    if settings_ not in _shared_apps:
        time = SwitchedTime()
        clock = Clock(time)
        _shared_apps[settings_] = SharedApp(create_app(settings_, clock=clock), clock, time)
    return _shared_apps[settings_]


def run_app(
    scenario: Callable[[Api, ChatApp], Awaitable[None]],
    settings_: Settings | None = None,
    *,
    time: TimeSource | None = None,
) -> None:
    """Run `scenario` in a fresh event loop against an app emptied by `POST /api/dev/reset`
    (shared between examples, see `shared_app`), its clock reading `time` (real time by
    default; see `frozen_time`) with no dev offset, so each example starts at its own
    instant."""
    shared = shared_app(settings_ or fuzz_settings())
    shared.time.current = time or real_time
    shared.clock.reset()
    app = shared.app

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            reset = await client.post("/api/dev/reset")
            assert reset.status_code == 200, reset.text
            await scenario(Api(client), app)

    asyncio.run(main())
