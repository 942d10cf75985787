"""What the docs' Python client examples must have done, checked over plain HTTP rather
than through the client under test; the programs tools/sdk/doc_examples.py writes start
and end with these."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import httpx


class ExampleFailed(AssertionError):
    """An example did not do what the docs say it does."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ExampleFailed(message)


def base_url() -> str:
    """The live server's URL, as tools/sdk/live_server.py hands it over."""
    return os.environ["CHAT_API_URL"]


def two_users(api: str) -> tuple[str, str, str]:
    """Alice's token and id, and Bob's id, from POST /api/dev/users."""
    made: list[dict[str, Any]] = []
    for name in ("Alice", "Bob"):
        response = httpx.post(f"{api}/api/dev/users", json={"name": name})
        check(response.status_code == 201, f"POST /api/dev/users: {response.text}")
        made.append(response.json()["data"])
    return made[0]["token"], made[0]["user"]["_id"], made[1]["user"]["_id"]


def check_opened_and_sent(api: str, token: str, self_id: str, other_id: str) -> None:
    """The example opened the direct chat between `self_id` and `other_id` and sent in it."""
    response = httpx.get(f"{api}/api/chat", headers={"Authorization": f"Bearer {token}"})
    check(response.status_code == 200, f"GET /api/chat answered {response.status_code}")
    chats = response.json()["data"]["chats"]
    wanted = {self_id, other_id}
    opened = [c for c in chats if c["type"] == "direct" and set(c["participants"]) == wanted]
    check(len(opened) == 1, f"the example opened no direct chat with {other_id}")
    sender = opened[0].get("lastMessage", {}).get("senderId")
    check(sender == self_id, "the example sent no message in that chat")


def check_readme_chat(
    status: int, participants: Sequence[str] | None, expected: Sequence[str]
) -> None:
    """The README's body opened a new chat of exactly the caller and the users it names."""
    check(status == 201, f"the README's body: expected 201, got {status}")
    check(
        participants is not None and list(participants) == list(expected),
        f"the README's body: participants {participants}, expected {list(expected)}",
    )
