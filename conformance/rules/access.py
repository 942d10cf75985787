"""Who may call what: a token on every operation, well-formed ids in paths, participants
only on a chat's routes and in its room."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conformance import expect, samples
from conformance.check import Check
from conformance.http import NOTHING, Form
from conformance.registry import rule
from conformance.specs import asyncapi, openapi
from conformance.world import Actor

PARAM = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Call:
    """A request a rule makes of every operation: its method, path and a valid body."""

    operation: str
    method: str
    template: str
    json: Any = NOTHING
    form: Form | None = None

    def path(self, **values: str) -> str:
        return PARAM.sub(lambda m: values[m.group(1)], self.template)

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.template)


def calls(chat_id: str = samples.UNKNOWN_ID) -> list[Call]:
    """One plausible request per operation outside the dev tag (bodies the schema accepts)."""
    other = samples.UNKNOWN_ID
    return [
        Call("create_chat", "POST", "/api/chat", json={"participantIds": [other]}),
        Call("list_chats", "GET", "/api/chat"),
        Call(
            "create_purchase_request_chat",
            "POST",
            "/api/chat/purchase-request",
            json={"purchaseRequestId": samples.new_id(), "sellerId": other},
        ),
        Call("create_support_chat", "POST", "/api/chat/support", json={}),
        Call("get_chat_stats", "GET", "/api/chat/stats"),
        Call("get_chat_config", "GET", "/api/chat/config"),
        *chat_calls(),
        Call("list_notifications", "GET", "/api/notifications"),
        Call("mark_notifications_read", "PATCH", "/api/notifications/read", json={}),
    ]


def chat_calls(user_id: str = samples.UNKNOWN_ID) -> list[Call]:
    """The operations on one chat (`{id}` in their path)."""
    chat = "/api/chat/{id}"
    return [
        Call("get_chat_info", "GET", chat + "/info"),
        Call("archive_chat", "PUT", chat + "/archive", json={"archived": True}),
        Call("add_participant", "POST", chat + "/participants", json={"userId": user_id}),
        Call("remove_participant", "DELETE", chat + "/participants/{participantId}"),
        Call("list_messages", "GET", chat + "/messages"),
        Call("send_message", "POST", chat + "/messages", json={"content": "hello"}),
        Call("send_file_message", "POST", chat + "/messages/file", form=samples.png_form()),
        Call("mark_messages_read", "PATCH", chat + "/messages/read", json={"messageIds": []}),
        Call("edit_message", "PUT", chat + "/messages/{messageId}", json={"content": "edited"}),
        Call("delete_message", "DELETE", chat + "/messages/{messageId}"),
        Call("download_attachment", "GET", chat + "/attachments/{fileId}"),
        Call("list_chat_events", "GET", chat + "/events"),
    ]


def covered(t: Check, found: list[Call]) -> None:
    """The table above names every operation of openapi.yaml outside the dev tag."""
    documented = {op for op, _, _ in t.contract.operations()}
    expect.equal({c.operation for c in found}, documented, "the operations the kit knows")


async def make(t: Check, actor: Actor | None, call: Call, **values: str) -> Any:
    path = call.path(**values)
    if actor is None:
        return await t.anonymous(call.method, path, json=call.json, form=call.form)
    return await actor.request(call.method, path, json=call.json, form=call.form)


@rule(
    "auth.token-required",
    "Every operation outside the dev tag answers 401 UNAUTHORIZED with WWW-Authenticate: "
    "Bearer to a request without a token, with a malformed one, or with a forged one",
    openapi("/components/responses/Unauthorized"),
)
async def token_required(t: Check) -> None:
    ann = await t.user()
    head, payload, _ = ann.token.split(".") if ann.token.count(".") == 2 else ("x", "y", "z")
    forged = f"{head}.{payload}.{'A' * 43}"
    every = calls()
    covered(t, every)
    ids = {p: samples.UNKNOWN_ID for p in ("id", "participantId", "messageId", "fileId")}
    for token in (None, "not-a-token", forged):
        for call in every:
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            reply = await t.kit.rest.request(
                call.method,
                call.path(**ids),
                json=call.json,
                form=call.form,
                headers=headers,
                actor="anonymous",
            )
            expect.problem(reply, 401, "UNAUTHORIZED")
            challenge = reply.header("WWW-Authenticate") or ""
            expect.that(
                challenge.lower().startswith("bearer"),
                f"{reply.exchange.line}: WWW-Authenticate is {challenge!r}",
            )


@rule(
    "auth.socket-token-required",
    "A Socket.IO connection without a token, or with a bad one, is refused with "
    "connect_error data {code: UNAUTHORIZED}",
    asyncapi("/components/securitySchemes/socketAuth"),
)
async def socket_token_required(t: Check) -> None:
    ann = await t.user()
    for token in ("", "not-a-token"):
        live = t.socket_for(ann, token=token)
        expect.that(not await live.try_connect(), f"a connection with token {token!r} was let in")
        refusal = live.refusal if isinstance(live.refusal, dict) else {}
        data = refusal.get("data", refusal)  # {message, data} as asyncapi.yaml's ConnectError
        code = data.get("code") if isinstance(data, dict) else None
        expect.equal(
            code, "UNAUTHORIZED", f"connect_error data of token {token!r} ({live.refusal!r})"
        )


@rule(
    "ids.malformed-400",
    "A malformed id in any path (chat, message, participant, file) is 400 VALIDATION_FAILED",
    openapi("/info", "**Ids and times.**"),
)
async def malformed_ids(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    for call in chat_calls():
        fill = {p: samples.UNKNOWN_ID for p in call.params}
        reply = await make(t, ann, call, **{**fill, "id": samples.MALFORMED_ID})
        expect.problem(reply, 400, "VALIDATION_FAILED")
        for param in call.params[1:]:
            reply = await make(
                t, ann, call, **{**fill, "id": chat["_id"], param: samples.MALFORMED_ID}
            )
            expect.problem(reply, 400, "VALIDATION_FAILED")


@rule(
    "ids.unknown-404",
    "A well-formed id that names nothing (a chat, a message, a participant, a file) is 404 "
    "NOT_FOUND",
    openapi("/info", "**Ids and times.**"),
)
async def unknown_ids(t: Check) -> None:
    (ann, _), chat = await t.chat_of(2)
    for call in chat_calls():
        fill = {p: samples.UNKNOWN_ID for p in call.params}
        expect.problem(await make(t, ann, call, **fill), 404, "NOT_FOUND")
        if len(call.params) > 1:
            expect.problem(
                await make(t, ann, call, **{**fill, "id": chat["_id"]}), 404, "NOT_FOUND"
            )
    stranger = {"userId": samples.UNKNOWN_ID}
    reply = await ann.post(f"/api/chat/{chat['_id']}/participants", json=stranger)
    expect.problem(reply, 404, "NOT_FOUND")


@rule(
    "access.non-participant-403",
    "A user who is not a participant gets 403 NOT_PARTICIPANT on every route of the chat",
    openapi("/components/responses/Forbidden"),
)
async def non_participant_rest(t: Check) -> None:
    ann, ben, outsider = await t.users(3)
    chat = await ann.group(ben)
    message = expect.created(await ann.send_file(chat["_id"], samples.png_form()))["message"]
    values = {
        "id": chat["_id"],
        "messageId": message["_id"],
        "fileId": message["attachments"][0]["fileId"],
        "participantId": ben.id,
    }
    for call in chat_calls(user_id=outsider.id):
        expect.problem(await make(t, outsider, call, **values), 403, "NOT_PARTICIPANT")
    after = await ann.history(chat["_id"])
    expect.equal([m["_id"] for m in after], [message["_id"]], "the history after the refused calls")
    expect.equal(after[0]["content"], message["content"], "the message after the refused calls")


@rule(
    "access.non-participant-no-events",
    "A non-participant cannot join the chat's room or type in it (acknowledged NOT_PARTICIPANT) "
    "and gets none of its events",
    asyncapi("/operations/joinChatRoom"),
)
async def non_participant_sockets(t: Check) -> None:
    ann, ben, outsider = await t.users(3)
    chat = await ann.group(ben)
    watcher, intruder = await t.live(ben), await t.live(outsider)
    await watcher.join(chat["_id"])
    for payload in (chat["_id"], {"chatId": chat["_id"]}):
        ack = await intruder.call("join-chat-room", payload)
        expect.equal(
            ack.get("error", {}).get("code"), "NOT_PARTICIPANT", f"join-chat-room {payload!r}"
        )
    ack = await intruder.call("typing-start", {"chatId": chat["_id"]})
    expect.equal(ack.get("error", {}).get("code"), "NOT_PARTICIPANT", "typing-start")
    typist = await t.live(ann)
    await typist.call("typing-start", {"chatId": chat["_id"]})
    await watcher.wait("user-typing", what="the participant's typing")
    await ann.sent(chat["_id"], "not for outsiders")
    await watcher.wait("new-message", what="the participant's copy")
    await intruder.nothing(why="it is not a participant")
