"""Deliberately broken variants of the reference server, each breaking one rule, so that
the conformance kit is proven to catch them rather than assumed to.

Each mutant is this server as `impl.app.create_app` builds it, with one behaviour broken
from outside: an ASGI layer wrapped around the built app (`answers`, `requests`), one
seam of the built app object replaced (its Socket.IO server's `emit`, its sockets'
participant check, a store operation or the domain call of every world: the default one
and each sandbox made later, `each_world`), or a real setting that the layer then hides.
None of them is a setting of the product: they live here, with the tests.

`MUTANTS` names them; each says which rule is meant to catch it (`caught_by`) and which
other rules see the same breakage from their side (`also`): the tests assert that the
run fails `caught_by` and nothing outside those.

    python tests/conformance/mutants.py NAME    serves one mutant on a free 127.0.0.1 port
                                                and prints `Docs: <url>/` like `serve`
                                                (how the conformance notebook starts one)
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impl.app import ChatApp, create_app
from impl.domain import messages as message_rules
from impl.domain.services import Services
from impl.settings import Settings
from impl.store.messages import BY_ID

Layer = Callable[[ASGIApp], ASGIApp]
Headers = list[tuple[bytes, bytes]]
SEND_PATH = re.compile(r"^/api/chat/[^/]+/messages$")
RATE_HEADERS = (b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset")
UNKNOWN_ID = "65f0000000000000000c0ffe"


# --- ways to break the built app from outside --------------------------------------------


def wrapped(app: ChatApp, layer: Layer) -> ChatApp:
    """`app` with `layer` around everything it serves."""
    app.asgi = layer(app.asgi)
    return app


def _hits(scope: Scope, method: str, path: re.Pattern[str]) -> bool:
    return scope["type"] == "http" and scope["method"] == method and bool(path.match(scope["path"]))


def answers(
    method: str,
    path: re.Pattern[str],
    status: Callable[[int], int] = lambda s: s,
    headers: Callable[[Headers], Headers] = lambda h: h,
    body: Callable[[bytes], bytes] = lambda b: b,
) -> Layer:
    """A layer that changes the answers to `method` `path`: status, headers, body."""

    def layer(inner: ASGIApp) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if not _hits(scope, method, path):
                return await inner(scope, receive, send)
            start: Message = {}
            chunks: list[bytes] = []

            async def held(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                    return
                if message["type"] != "http.response.body":
                    return await send(message)
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                content = body(b"".join(chunks))
                kept = [
                    (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
                ]
                changed = [*headers(kept), (b"content-length", str(len(content)).encode())]
                await send({**start, "status": status(start["status"]), "headers": changed})
                await send({"type": "http.response.body", "body": content})

            await inner(scope, receive, held)
            return None

        return app

    return layer


def _is_json(scope: Scope) -> bool:
    media = dict(scope["headers"]).get(b"content-type", b"").split(b";")[0].strip().lower()
    return media == b"application/json"


def requests(method: str, path: re.Pattern[str], body: Callable[[bytes], bytes]) -> Layer:
    """A layer that changes the JSON (or empty) body of requests to `method` `path` before
    the app reads it; other bodies pass as they are."""

    def layer(inner: ASGIApp) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if not _hits(scope, method, path):
                return await inner(scope, receive, send)
            sent = b""
            while True:
                message = await receive()
                sent += message.get("body", b"")
                if not message.get("more_body"):
                    break
            headers = scope["headers"]
            if _is_json(scope) or not sent:
                sent = body(sent)
                kept = [(k, v) for k, v in headers if k not in (b"content-length", b"content-type")]
                headers = [*kept, (b"content-type", b"application/json")]
                headers.append((b"content-length", str(len(sent)).encode()))
            delivered = False

            async def replayed() -> Message:
                nonlocal delivered
                if delivered:
                    return await receive()
                delivered = True
                return {"type": "http.request", "body": sent, "more_body": False}

            await inner({**scope, "headers": headers}, replayed, send)
            return None

        return app

    return layer


def json_body(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[bytes], bytes]:
    def rewrite(content: bytes) -> bytes:
        parsed = json.loads(content) if content.strip() else {}
        return json.dumps(change(parsed)).encode()

    return rewrite


def each_world(app: ChatApp, change: Callable[[Services], None]) -> ChatApp:
    """Apply `change` to the default world's services and to every sandbox's, as made."""
    change(app.services)
    make = app.sandboxes.make

    def made(name: str) -> Services:
        services = make(name)
        change(services)
        return services

    app.sandboxes.make = made
    return app


Emit = Callable[..., Awaitable[None]]


def on_emit(app: ChatApp, change: Callable[[str, Any, dict[str, Any]], None]) -> ChatApp:
    """Let `change(event, payload, options)` alter each event the server emits (a copy of
    its payload; `options` holds `room` and `skip_sid`)."""
    emit: Emit = app.sio.emit

    async def mutated(event: str, data: Any = None, **options: Any) -> None:
        payload = json.loads(json.dumps(data)) if isinstance(data, dict) else data
        change(event, payload, options)
        await emit(event, payload, **options)

    app.sio.emit = mutated  # type: ignore[method-assign]
    return app


# --- the mutants ---------------------------------------------------------------------------


def send_created_as_200() -> ChatApp:
    created = answers("POST", SEND_PATH, status=lambda s: 200 if s == 201 else s)
    return wrapped(create_app(), created)


def no_rate_limit_headers() -> ChatApp:
    def strip(headers: Headers) -> Headers:
        return [(k, v) for k, v in headers if k.lower() not in RATE_HEADERS]

    return wrapped(create_app(), answers("POST", SEND_PATH, headers=strip))


def rate_limit_off_by_one() -> ChatApp:
    """Lets one message more through than the limit it reports (config and headers)."""
    reported = Settings().rate_limit
    app = create_app(Settings(rate_limit=reported + 1))

    def config(answer: dict[str, Any]) -> dict[str, Any]:
        if "data" in answer:  # not a refusal
            answer["data"]["rateLimit"]["messages"] = reported
        return answer

    def headers(found: Headers) -> Headers:
        changed = []
        for name, value in found:
            if name.lower() == b"x-ratelimit-limit":
                value = str(reported).encode()
            elif name.lower() == b"x-ratelimit-remaining":
                value = str(max(0, int(value) - 1)).encode()
            changed.append((name, value))
        return changed

    config_path = re.compile(r"^/api/chat/config$")
    app = wrapped(app, answers("GET", config_path, body=json_body(config)))
    return wrapped(app, answers("POST", SEND_PATH, headers=headers))


def edit_window_not_enforced() -> ChatApp:
    """Checks edits against a window a hundred times longer than the one it reports."""

    def lenient(services: Services) -> None:
        run = services.run
        wide = services.settings.with_overrides(
            edit_window_seconds=services.settings.edit_window_seconds * 100
        )

        async def mutated(fn: Callable[..., Any], *args: Any) -> Any:
            if fn is message_rules.edit:
                call, *rest = args
                args = (replace(call, services=replace(call.services, settings=wide)), *rest)
            return await run(fn, *args)

        services.run = mutated  # type: ignore[method-assign]

    return each_world(create_app(), lenient)


def archive_does_not_toggle() -> ChatApp:
    """An archive call without a body archives; it never unarchives."""

    def always_archive(sent: bytes) -> bytes:
        return sent if sent.strip() else b'{"archived": true}'

    archive = re.compile(r"^/api/chat/[^/]+/archive$")
    return wrapped(create_app(), requests("PUT", archive, always_archive))


def soft_delete_keeps_content() -> ChatApp:
    def keeps(services: Services) -> None:
        table = services.store.messages.table

        def tombstone(message_id: Any, at: Any) -> Any:
            query = {"_id": message_id, "deletedAt": None}
            return table.find_one_and_update(BY_ID, query, {"$set": {"deletedAt": at}}, before=True)

        services.store.messages.tombstone = tombstone  # type: ignore[method-assign]

    return each_world(create_app(), keeps)


def unread_not_incremented() -> ChatApp:
    def uncounted(services: Services) -> None:
        record = services.store.chats.record_message

        def mutated(chat_id: Any, preview: Any, now: Any, counts: Any) -> Any:
            return record(chat_id, preview, now, {})

        services.store.chats.record_message = mutated  # type: ignore[method-assign]

    return each_world(create_app(), uncounted)


def seq_missing() -> ChatApp:
    def drop(event: str, payload: Any, options: dict[str, Any]) -> None:
        if event == "message-edited":
            payload.pop("seq", None)

    return on_emit(create_app(), drop)


def seq_repeated() -> ChatApp:
    """Every event after a chat's first carries the number of the one before it."""

    def repeat(event: str, payload: Any, options: dict[str, Any]) -> None:
        if isinstance(payload, dict) and isinstance(payload.get("seq"), int) and payload["seq"] > 1:
            payload["seq"] -= 1

    return on_emit(create_app(), repeat)


def event_to_wrong_room() -> ChatApp:
    """participants-added goes to the added user's room instead of the chat's."""

    def misroute(event: str, payload: Any, options: dict[str, Any]) -> None:
        if event == "participants-added" and str(options.get("room", "")).startswith("chat-"):
            options["room"] = f"user-{payload['userIds'][0]}"

    return on_emit(create_app(), misroute)


def event_missing_field() -> ChatApp:
    def drop(event: str, payload: Any, options: dict[str, Any]) -> None:
        if event == "messages-read":
            payload.pop("readAt", None)

    return on_emit(create_app(), drop)


def typing_echoed() -> ChatApp:
    def echo(event: str, payload: Any, options: dict[str, Any]) -> None:
        if event == "user-typing":
            options["skip_sid"] = None

    return on_emit(create_app(), echo)


def purchase_request_not_idempotent() -> ChatApp:
    """Every purchase-request call makes a new chat."""

    def forgetful(services: Services) -> None:
        chats = services.store.chats
        add_or_get = chats.add_or_get

        def mutated(doc: dict[str, Any]) -> Any:
            if str(doc.get("dedupeKey", "")).startswith("purchase:"):
                doc = {**doc, "dedupeKey": f"{doc['dedupeKey']}:{doc['_id']}"}
            return add_or_get(doc)

        chats.add_or_get = mutated  # type: ignore[method-assign]
        find = chats.find_deduplicated
        chats.find_deduplicated = (  # type: ignore[method-assign]
            lambda key: None if key.startswith("purchase:") else find(key)
        )

    return each_world(create_app(), forgetful)


def idempotency_key_ignored() -> ChatApp:
    def forget_key(body: dict[str, Any]) -> dict[str, Any]:
        body.pop("clientMessageId", None)
        return body

    return wrapped(create_app(), requests("POST", SEND_PATH, json_body(forget_key)))


def non_participant_joins() -> ChatApp:
    """The Socket.IO handlers let anyone into a chat's room and its typing."""
    app = create_app()

    async def anyone(sid: str, user_id: str, chat_id: Any) -> None:
        return None

    app.sockets.require_participant = anyone  # type: ignore[method-assign]
    return app


def empty_read_marks_nothing() -> ChatApp:
    """Marking read with messageIds empty or missing marks nothing."""

    def nothing(body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("messageIds"):
            body["messageIds"] = [UNKNOWN_ID]
        return body

    read = re.compile(r"^/api/chat/[^/]+/messages/read$")
    return wrapped(create_app(), requests("PATCH", read, json_body(nothing)))


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str
    caught_by: str
    build: Callable[[], ChatApp]
    also: frozenset[str] = frozenset()


EVENTS_OF_A_BUSY_CHAT = frozenset({"events.seq.order", "events.replay.matches"})
RATE_RULES = frozenset({"limits.rate.limit-plus-one", "limits.rate.window-slides"})

MUTANTS = {
    m.name: m
    for m in (
        Mutant(
            "send-created-as-200",
            "a new message is answered 200 instead of 201",
            "operations.send_message",
            send_created_as_200,
            frozenset({"messages.idempotent-send"}),
        ),
        Mutant(
            "no-rate-limit-headers",
            "sends carry no X-RateLimit-* headers",
            "limits.rate.headers",
            no_rate_limit_headers,
            RATE_RULES | {"messages.idempotent-send"},
        ),
        Mutant(
            "rate-limit-off-by-one",
            "one message more than the reported limit is accepted",
            "limits.rate.limit-plus-one",
            rate_limit_off_by_one,
            RATE_RULES,
        ),
        Mutant(
            "edit-window-not-enforced",
            "edits are accepted after the edit window",
            "limits.edit-window",
            edit_window_not_enforced,
        ),
        Mutant(
            "archive-does-not-toggle",
            "archiving without a body never unarchives",
            "chats.archive.toggles",
            archive_does_not_toggle,
        ),
        Mutant(
            "soft-delete-keeps-content",
            "a deleted message keeps its content",
            "messages.delete.tombstone",
            soft_delete_keeps_content,
        ),
        Mutant(
            "unread-not-incremented",
            "a new message raises nobody's unread count",
            "unread.counts-move-exactly",
            unread_not_incremented,
            frozenset(
                {"chats.stats.counts", "messages.read.all-when-empty", "messages.read.exact"}
            ),
        ),
        Mutant(
            "seq-missing",
            "message-edited carries no seq",
            "events.seq.order",
            seq_missing,
            EVENTS_OF_A_BUSY_CHAT | {"messages.edit.author"},
        ),
        Mutant(
            "seq-repeated",
            "each event repeats the seq of the one before",
            "events.seq.order",
            seq_repeated,
            EVENTS_OF_A_BUSY_CHAT,
        ),
        Mutant(
            "event-to-wrong-room",
            "participants-added goes to a user's room, not the chat's",
            "chats.participants.added-event",
            event_to_wrong_room,
            EVENTS_OF_A_BUSY_CHAT,
        ),
        Mutant(
            "event-missing-field",
            "messages-read has no readAt",
            "messages.read.exact",
            event_missing_field,
            EVENTS_OF_A_BUSY_CHAT,
        ),
        Mutant(
            "typing-echoed",
            "user-typing reaches the typist's own sockets",
            "realtime.typing.not-to-sender",
            typing_echoed,
        ),
        Mutant(
            "purchase-request-not-idempotent",
            "asking again for a purchase-request chat makes a new one",
            "chats.purchase-request.idempotent",
            purchase_request_not_idempotent,
        ),
        Mutant(
            "idempotency-key-ignored",
            "a retried send with the same clientMessageId stores a second message",
            "messages.idempotent-send",
            idempotency_key_ignored,
            frozenset({"limits.rate.headers"}),
        ),
        Mutant(
            "non-participant-joins",
            "anyone may join a chat's room and type in it",
            "access.non-participant-no-events",
            non_participant_joins,
        ),
        Mutant(
            "empty-read-marks-nothing",
            "marking read with no messageIds marks nothing",
            "messages.read.all-when-empty",
            empty_read_marks_nothing,
            frozenset({"unread.counts-move-exactly"}),
        ),
    )
}


def serve(name: str) -> int:
    """Serve one mutant until SIGTERM, announcing its URL as `serve` does."""
    from impl.serve import bind, server_for

    if name not in MUTANTS:
        print(f"error: no mutant {name!r} (known: {', '.join(MUTANTS)})", file=sys.stderr)
        return 2
    app = MUTANTS[name].build()
    listener = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def announce() -> None:
        print(f"Docs: {url}/   mutant: {name}", flush=True)

    with listener:
        server_for(app, app.services.settings, "warning", announce).run(sockets=[listener])
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1] if len(sys.argv) > 1 else ""))
