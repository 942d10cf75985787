"""Pact provider states: named situations a consumer's pact assumes, made on request.

A Pact verifier replays each interaction of a pact against this server; before it, it
posts the interaction's provider state to its state-change URL as
`{state, params, action: "setup"}`, and afterwards, with teardown on, the same with
`action: "teardown"`. Pointed at `POST /api/dev/provider-states`, each setup builds what
the state says in a fresh sandbox of its own, through the domain's own functions (users,
a chat, messages sent as any client sends them, the sandbox's clock moved), and answers
the ids and tokens the interaction needs: Pact v3's provider-state injected values
(`fromProviderState('/api/chat/${chatId}/messages', ...)`). The tokens carry their
sandbox, so the replayed requests need no header. A teardown removes the oldest sandbox a
setup of that state made.

The states (`STATES`; openapi.yaml's `ProviderStateRequest` lists the same names, so
an unknown one is refused by validation), each named by what it makes:

    a buyer and a seller
    buyer and seller have a direct chat with 3 messages
    the buyer's rate limit is used up
    a message older than the edit window
    a message the buyer deleted
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from impl.devkit.sandboxes import current_sandboxes
from impl.domain import chats, dev, messages
from impl.domain.services import Call, Caller
from impl.errors import Conflict
from impl.store import Doc

Values = dict[str, Any]
# What the verifier posts when an interaction names no state: nothing to make.
NO_STATE = ""
CONVERSATION = ("Is it still for sale?", "Yes, it is.", "Great, I will take it.")
# The most real sends one setup makes (the used-up rate limit sends CHAT_RATE_LIMIT).
MOST_SENDS = 1000


@dataclass(frozen=True)
class State:
    key: str  # the sandbox names of this state start `state-<key>-`
    build: Callable[[Call], Values]

    @property
    def prefix(self) -> str:
        return f"state-{self.key}-"


def _cast(call: Call) -> tuple[Caller, Caller, Values]:
    """A buyer and a seller, each as a caller of the sandbox, and their ids and tokens."""
    buyer = dev.new_user(call, "Bea Buyer")
    seller = dev.new_user(call, "Sol Seller")
    values = {
        "buyerId": str(buyer["_id"]),
        "sellerId": str(seller["_id"]),
        "buyerToken": dev.with_token(call, buyer)["token"],
        "sellerToken": dev.with_token(call, seller)["token"],
    }
    return _as(call, buyer), _as(call, seller), values


def _as(call: Call, user: Doc) -> Caller:
    """`user`'s caller, whose side effects (events, notifications) join the call's."""
    return Caller(call.services, call.effects, user=user)


def buyer_and_seller(call: Call) -> Values:
    return _cast(call)[2]


def _direct_chat(call: Call, sent: int) -> tuple[Caller, Values]:
    """The buyer's direct chat with the seller and `sent` messages, taking turns."""
    buyer, seller, values = _cast(call)
    chat_id = chats.create(buyer, {"participantIds": [values["sellerId"]]}).chat["_id"]
    ids = []
    for n in range(sent):
        author = (buyer, seller)[n % 2]
        content = CONVERSATION[n % len(CONVERSATION)]
        ids.append(messages.send(author, chat_id, {"content": content}).message["_id"])
    values.update(chatId=chat_id, messageIds=ids)
    if ids:
        values["messageId"] = ids[-1 if sent % 2 else -2]  # the buyer's latest
    return buyer, values


def chat_with_three_messages(call: Call) -> Values:
    return _direct_chat(call, 3)[1]


def rate_limit_used_up(call: Call) -> Values:
    """The buyer has sent as many messages as the window allows, through real sends (at
    most MOST_SENDS: a server whose limit is higher cannot make this state)."""
    limit = call.settings.rate_limit
    if limit > MOST_SENDS:
        raise Conflict(
            f"this state sends CHAT_RATE_LIMIT ({limit}) messages; this server can make it "
            f"only with a limit of at most {MOST_SENDS}",
            code="STATE_TOO_COSTLY",
        )
    buyer, values = _direct_chat(call, 0)
    for n in range(call.settings.rate_limit):
        messages.send(buyer, values["chatId"], {"content": f"message {n + 1}"})
    return values


def message_past_edit_window(call: Call) -> Values:
    """The buyer's message, and the sandbox's clock moved one second past its window."""
    _, values = _direct_chat(call, 1)
    call.clock.advance(call.settings.edit_window_seconds + 1)
    return values


def message_deleted(call: Call) -> Values:
    buyer, values = _direct_chat(call, 1)
    messages.delete(buyer, values["chatId"], values["messageId"])
    return values


STATES = {
    "a buyer and a seller": State("users", buyer_and_seller),
    "buyer and seller have a direct chat with 3 messages": State("chat", chat_with_three_messages),
    "the buyer's rate limit is used up": State("rate-limit", rate_limit_used_up),
    "a message older than the edit window": State("edit-window", message_past_edit_window),
    "a message the buyer deleted": State("deleted", message_deleted),
}


async def set_up(state: State) -> Values:
    """A fresh sandbox with what `state` says in it; the values the interaction needs."""
    sandboxes = current_sandboxes()
    sandbox = sandboxes.open(state.prefix + secrets.token_hex(4))
    sandbox.kept = True
    call = Call(sandbox.services)
    try:
        values = await sandbox.services.run(state.build, call)
    except BaseException:
        await sandboxes.remove_with_sockets(sandbox.name)
        raise
    await sandbox.services.effects.run(call.effects, sandbox.services)
    return {**values, "sandbox": sandbox.name}


async def tear_down(state: State) -> Values:
    """Remove the oldest sandbox a setup of `state` made, if one is left."""
    made = [s for s in current_sandboxes() if s.name.startswith(state.prefix)]
    if not made:
        return {"removed": None}
    oldest = min(made, key=lambda s: (s.created_at, s.name))
    await current_sandboxes().remove_with_sockets(oldest.name)
    return {"removed": oldest.name}
