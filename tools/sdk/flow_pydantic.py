"""A full chat flow through the client openapi-generator's `python` generator made from
openapi.yaml (build/sdk/pydantic, package `chat_api_pydantic`), against a live server:
users from the dev endpoint, a direct chat, send, edit, read, list, delete, and the 4xx
answers raised as the client's typed exceptions, each carrying the problem document.

    PYTHONPATH=build/sdk/pydantic python tools/sdk/flow_pydantic.py http://127.0.0.1:8080

Exit code 0 when every step saw what the contract says, else 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from chat_api_pydantic import ApiClient, Configuration
from chat_api_pydantic.api import ChatsApi, DevApi, MessagesApi
from chat_api_pydantic.api_response import ApiResponse
from chat_api_pydantic.exceptions import (
    ApiException,
    BadRequestException,
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)
from chat_api_pydantic.models import (
    AdvanceClockRequest,
    CreateChatRequest,
    CreateDevUserRequest,
    EditMessageRequest,
    MarkReadRequest,
    Problem,
    SendMessageRequest,
)

T = TypeVar("T")
UNKNOWN_ID = "0123456789abcdef01234567"


class FlowFailed(AssertionError):
    """A step saw something other than what the contract says."""


class Apis:
    """The generated API classes, bound to one identity (a token, or none)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        client = ApiClient(Configuration(host=base_url, access_token=token))
        self.chats = ChatsApi(client)
        self.messages = MessagesApi(client)
        self.dev = DevApi(client)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise FlowFailed(message)


def expect(response: ApiResponse[T], status: int) -> T:
    """The typed body of a success with this status."""
    check(response.status_code == status, f"expected {status}, got {response.status_code}")
    return response.data


def expect_problem(
    call: Callable[[], Any], kind: type[ApiException], status: int, code: str
) -> Problem:
    """The problem document of the typed exception a call must raise."""
    try:
        call()
    except kind as exc:
        body = exc.data if isinstance(exc.data, Problem) else Problem.from_json(exc.body or "")
        check(body is not None, f"{kind.__name__} without a problem document")
        assert body is not None
        check(
            exc.status == status and body.status == status and body.code == code,
            f"expected problem {status} {code}, got {exc.status}: {exc.body}",
        )
        check(body.success is False, "a problem document carries success: false")
        return body
    raise FlowFailed(f"expected {kind.__name__} {status} {code}, but the call succeeded")


def step(text: str) -> None:
    print(f"  ok  {text}", flush=True)


def user(anonymous: Apis, base_url: str, name: str) -> tuple[str, Apis]:
    """A new user from the dev endpoint, and the APIs bound to its token."""
    request = CreateDevUserRequest(name=name)
    created = expect(anonymous.dev.create_dev_user_with_http_info(request), 201).data
    return created.user.id, Apis(base_url, created.token)


def run(base_url: str) -> None:
    anonymous = Apis(base_url)
    expect(anonymous.dev.reset_dev_store_with_http_info(), 200)
    step("the store is reset")
    alice_id, alice = user(anonymous, base_url, "Alice")
    bob_id, bob = user(anonymous, base_url, "Bob")
    _, carol = user(anonymous, base_url, "Carol")
    step("three users and their tokens from POST /api/dev/users")

    stranger = Apis(base_url, "not-a-jwt")
    expect_problem(stranger.chats.list_chats, UnauthorizedException, 401, "UNAUTHORIZED")
    step("a bad token raises UnauthorizedException carrying 401 UNAUTHORIZED")

    request = CreateChatRequest(participant_ids=[bob_id])
    chat = expect(alice.chats.create_chat_with_http_info(request), 201).data.chat
    check(set(chat.participants) == {alice_id, bob_id}, f"participants {chat.participants}")
    again = expect(alice.chats.create_chat_with_http_info(request), 200).data.chat
    check(again.id == chat.id, "the same direct chat comes back")
    step("a direct chat is created (201), then found again (200)")
    titled = CreateChatRequest(participant_ids=[bob_id], title="Bike")
    expect_problem(
        lambda: alice.chats.create_chat(titled), BadRequestException, 400, "VALIDATION_FAILED"
    )
    step("a title on a direct chat raises BadRequestException (400)")

    sent = alice.messages.send_message_with_http_info(
        chat.id, SendMessageRequest(content="  Is it still for sale?  ")
    )
    message = expect(sent, 201).data.message
    check(message.content == "Is it still for sale?", f"trimmed content, got {message.content!r}")
    headers = {k.lower() for k in (sent.headers or {})}
    check("x-ratelimit-remaining" in headers, "send carries the rate limit headers")
    blank = SendMessageRequest(content="   ")
    expect_problem(
        lambda: alice.messages.send_message(chat.id, blank),
        BadRequestException,
        400,
        "VALIDATION_FAILED",
    )
    step("a message is sent and trimmed; a blank one raises BadRequestException (400)")

    edit = EditMessageRequest(content="Is it still for sale? (edited)")
    edited = expect(
        alice.messages.edit_message_with_http_info(chat.id, message.id, edit), 200
    ).data.message
    check(edited.content == edit.content and edited.edited_at is not None, "edit is stored")
    expect_problem(
        lambda: bob.messages.edit_message(chat.id, message.id, edit),
        ForbiddenException,
        403,
        "NOT_AUTHOR",
    )
    step("the author edits; anyone else raises ForbiddenException (403 NOT_AUTHOR)")

    listed = expect(bob.chats.list_chats_with_http_info(), 200).data
    check(listed.chats[0].unread_count == 1, f"bob has 1 unread, got {listed.chats[0]}")
    read = bob.messages.mark_messages_read_with_http_info(chat.id, MarkReadRequest())
    check(expect(read, 200).data.modified_count == 1, "one message newly read")
    listed = expect(bob.chats.list_chats_with_http_info(), 200).data
    check(listed.chats[0].unread_count == 0, "nothing unread after reading")
    step("bob's unread count goes 1 -> 0 when he reads")

    page = expect(bob.messages.list_messages_with_http_info(chat.id), 200).data
    check(page.pagination.total == 1 and page.messages[0].id == message.id, "the history")
    check(bob_id in {r.user_id for r in page.messages[0].read_by}, "bob is in readBy")
    expect_problem(
        lambda: carol.messages.list_messages(chat.id),
        ForbiddenException,
        403,
        "NOT_PARTICIPANT",
    )
    expect_problem(
        lambda: bob.messages.list_messages(UNKNOWN_ID), NotFoundException, 404, "NOT_FOUND"
    )
    older = expect(bob.messages.list_messages_with_http_info(chat.id, before=message.id), 200).data
    check(older.messages == [], "nothing is older than the only message")
    step("the history lists; outsiders and unknown ids raise typed 403/404 exceptions")

    window = AdvanceClockRequest(advance_seconds=901)
    expect(anonymous.dev.advance_dev_clock_with_http_info(window), 200)
    expect_problem(
        lambda: alice.messages.edit_message(chat.id, message.id, edit),
        ForbiddenException,
        403,
        "EDIT_WINDOW_EXPIRED",
    )
    step("after the dev clock moves 901 s, an edit raises 403 EDIT_WINDOW_EXPIRED")

    deleted = expect(
        alice.messages.delete_message_with_http_info(chat.id, message.id), 200
    ).data.message
    check(deleted.deleted_at is not None and deleted.content == "", "a tombstone")
    expect(alice.messages.delete_message_with_http_info(chat.id, message.id), 200)
    page = expect(bob.messages.list_messages_with_http_info(chat.id), 200).data
    check(page.messages[0].deleted_at is not None, "the tombstone stays in the history")
    step("delete leaves a tombstone, twice is 200, and the history keeps it")


def main(argv: list[str]) -> int:
    base_url = argv[1] if len(argv) > 1 else os.environ.get("CHAT_API_URL", "")
    if not base_url:
        print("usage: flow_pydantic.py BASE_URL (or set CHAT_API_URL)", file=sys.stderr)
        return 2
    print(f"openapi-generator python client flow against {base_url}")
    try:
        run(base_url)
    except FlowFailed as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    print("openapi-generator python client flow: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
