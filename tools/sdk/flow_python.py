"""A full chat flow through the generated Python client (build/sdk/python), against a live
server: users from the dev endpoint, a direct chat, send, edit, read, list, delete, and
the typed problem documents of the 4xx answers on the way.

    PYTHONPATH=build/sdk/python python tools/sdk/flow_python.py http://127.0.0.1:8080

(`python tools/sdk/live_server.py -- python tools/sdk/flow_python.py {url}` starts a
server for it.) Exit code 0 when every step saw what the contract says, else 1.
"""

from __future__ import annotations

import os
import sys
from typing import TypeVar

from chat_api_client import AuthenticatedClient, Client
from chat_api_client.api.chats import create_chat, list_chats
from chat_api_client.api.dev import advance_dev_clock, create_dev_user, reset_dev_store
from chat_api_client.api.messages import (
    delete_message,
    edit_message,
    list_messages,
    mark_messages_read,
    send_message,
)
from chat_api_client.models import (
    AdvanceClockRequest,
    ChatListResponse,
    ChatResponse,
    CreateChatRequest,
    CreateDevUserRequest,
    DevUserResponse,
    EditMessageRequest,
    MarkReadRequest,
    MessageListResponse,
    MessageResponse,
    ModifiedCountResponse,
    Problem,
    SendMessageRequest,
)
from chat_api_client.types import UNSET, Response

T = TypeVar("T")
UNKNOWN_ID = "0123456789abcdef01234567"


class FlowFailed(AssertionError):
    """A step saw something other than what the contract says."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise FlowFailed(message)


def expect(response: Response[T | Problem], status: int, kind: type[T]) -> T:
    """The parsed body of a success with this status, typed as the spec says."""
    body = response.parsed
    check(
        response.status_code == status and isinstance(body, kind),
        f"expected {status} {kind.__name__}, got {response.status_code}: {response.content!r}",
    )
    assert isinstance(body, kind)
    return body


def expect_problem(response: Response[T | Problem], status: int, code: str) -> Problem:
    """The typed problem document of a 4xx, with the contract's status and code."""
    body = response.parsed
    check(
        isinstance(body, Problem) and body.status == status and body.code == code,
        f"expected problem {status} {code}, got {response.status_code}: {response.content!r}",
    )
    assert isinstance(body, Problem)
    check(body.success is False, "a problem document carries success: false")
    return body


def step(text: str) -> None:
    print(f"  ok  {text}", flush=True)


def user(anonymous: Client, base_url: str, name: str) -> tuple[str, AuthenticatedClient]:
    """A new user from the dev endpoint, and a client holding its token."""
    body = CreateDevUserRequest(name=name)
    response = create_dev_user.sync_detailed(client=anonymous, body=body)
    created = expect(response, 201, DevUserResponse)
    client = AuthenticatedClient(base_url=base_url, token=created.data.token)
    return created.data.user.field_id, client


def run(base_url: str) -> None:
    anonymous = Client(base_url=base_url)
    check(reset_dev_store.sync_detailed(client=anonymous).status_code == 200, "reset")
    step("the store is reset")
    alice_id, alice = user(anonymous, base_url, "Alice")
    bob_id, bob = user(anonymous, base_url, "Bob")
    _, carol = user(anonymous, base_url, "Carol")
    step("three users and their tokens from POST /api/dev/users")

    stranger = AuthenticatedClient(base_url=base_url, token="not-a-jwt")
    expect_problem(list_chats.sync_detailed(client=stranger), 401, "UNAUTHORIZED")
    step("a bad token is a typed 401 UNAUTHORIZED")

    request = CreateChatRequest(participant_ids=[bob_id])
    response = create_chat.sync_detailed(client=alice, body=request)
    chat = expect(response, 201, ChatResponse).data.chat
    check(set(chat.participants) == {alice_id, bob_id}, f"participants {chat.participants}")
    again = expect(create_chat.sync_detailed(client=alice, body=request), 200, ChatResponse)
    check(again.data.chat.field_id == chat.field_id, "the same direct chat comes back")
    step("a direct chat is created (201), then found again (200)")
    titled = CreateChatRequest(participant_ids=[bob_id], title="Bike")
    expect_problem(create_chat.sync_detailed(client=alice, body=titled), 400, "VALIDATION_FAILED")
    step("a title on a direct chat is a typed 400")

    sent = send_message.sync_detailed(
        chat.field_id, client=alice, body=SendMessageRequest(content="  Is it still for sale?  ")
    )
    message = expect(sent, 201, MessageResponse).data.message
    check(message.content == "Is it still for sale?", f"trimmed content, got {message.content!r}")
    check("X-RateLimit-Remaining" in sent.headers, "send carries the rate limit headers")
    blank = send_message.sync_detailed(
        chat.field_id, client=alice, body=SendMessageRequest(content="   ")
    )
    expect_problem(blank, 400, "VALIDATION_FAILED")
    step("a message is sent and trimmed; a blank one is a typed 400")

    edit = EditMessageRequest(content="Is it still for sale? (edited)")
    edited = expect(
        edit_message.sync_detailed(chat.field_id, message.field_id, client=alice, body=edit),
        200,
        MessageResponse,
    ).data.message
    check(edited.content == edit.content and edited.edited_at is not UNSET, "edit is stored")
    by_bob = edit_message.sync_detailed(chat.field_id, message.field_id, client=bob, body=edit)
    expect_problem(by_bob, 403, "NOT_AUTHOR")
    step("the author edits; anyone else gets a typed 403 NOT_AUTHOR")

    listed = expect(list_chats.sync_detailed(client=bob), 200, ChatListResponse).data
    check(listed.chats[0].unread_count == 1, f"bob has 1 unread, got {listed.chats[0]}")
    read = mark_messages_read.sync_detailed(chat.field_id, client=bob, body=MarkReadRequest())
    check(expect(read, 200, ModifiedCountResponse).data.modified_count == 1, "one newly read")
    listed = expect(list_chats.sync_detailed(client=bob), 200, ChatListResponse).data
    check(listed.chats[0].unread_count == 0, "nothing unread after reading")
    step("bob's unread count goes 1 -> 0 when he reads")

    page = expect(
        list_messages.sync_detailed(chat.field_id, client=bob), 200, MessageListResponse
    ).data
    check(page.pagination.total == 1 and page.messages[0].field_id == message.field_id, "list")
    check(bob_id in {r.user_id for r in page.messages[0].read_by}, "bob is in readBy")
    outsider = list_messages.sync_detailed(chat.field_id, client=carol)
    expect_problem(outsider, 403, "NOT_PARTICIPANT")
    expect_problem(list_messages.sync_detailed(UNKNOWN_ID, client=bob), 404, "NOT_FOUND")
    expect_problem(list_messages.sync_detailed("not-an-id", client=bob), 400, "VALIDATION_FAILED")
    step("the history lists; outsiders, unknown and malformed ids get typed 403/404/400")

    window = AdvanceClockRequest(advance_seconds=901)
    check(advance_dev_clock.sync_detailed(client=anonymous, body=window).status_code == 200, "")
    late = edit_message.sync_detailed(chat.field_id, message.field_id, client=alice, body=edit)
    expect_problem(late, 403, "EDIT_WINDOW_EXPIRED")
    step("after the dev clock moves 901 s, an edit is a typed 403 EDIT_WINDOW_EXPIRED")

    deleted = expect(
        delete_message.sync_detailed(chat.field_id, message.field_id, client=alice),
        200,
        MessageResponse,
    ).data.message
    check(deleted.deleted_at is not UNSET and deleted.content == "", "a tombstone")
    twice = delete_message.sync_detailed(chat.field_id, message.field_id, client=alice)
    expect(twice, 200, MessageResponse)
    page = expect(
        list_messages.sync_detailed(chat.field_id, client=bob), 200, MessageListResponse
    ).data
    check(page.messages[0].deleted_at is not UNSET, "the tombstone stays in the history")
    step("delete leaves a tombstone, twice is 200, and the history keeps it")


def main(argv: list[str]) -> int:
    base_url = argv[1] if len(argv) > 1 else os.environ.get("CHAT_API_URL", "")
    if not base_url:
        print("usage: flow_python.py BASE_URL (or set CHAT_API_URL)", file=sys.stderr)
        return 2
    print(f"Python client flow against {base_url}")
    try:
        run(base_url)
    except FlowFailed as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    print("Python client flow: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
