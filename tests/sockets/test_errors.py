"""Who is at fault when a Socket.IO event fails: a payload that breaks the event's schema
is the client's (`VALIDATION_FAILED`, nothing logged as an error), anything else that goes
wrong in a handler is the server's (`INTERNAL_ERROR`, logged with its traceback).

The server's fault is injected through a seam `create_app` takes: a presence whose lookup
of a user's sockets fails while a test arms it.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from conftest import Api
from impl.realtime.presence import LocalPresence
from sockets.support import UNKNOWN_ID, Sockets, World, build_world, direct_chat, failure_code

SOCKET_LOG = "impl.realtime.sockets"


class BrokenPresence(LocalPresence):
    """In-process presence whose `sids` raises `failure` while one is set: a stand-in for a
    bug in code a handler calls. A ValueError on purpose: that is the kind of error the
    handlers once took for a bad payload."""

    def __init__(self) -> None:
        super().__init__()
        self.failure: Exception | None = None

    async def sids(self, user_id: str) -> list[str]:
        if self.failure is not None:
            raise self.failure
        return await super().sids(user_id)


@pytest.fixture(scope="module")
def module_world() -> World:
    return build_world(presence=BrokenPresence())


@pytest.fixture
def presence(world: World) -> BrokenPresence:
    assert isinstance(world.presence, BrokenPresence)
    world.presence.failure = None
    return world.presence


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SOCKET_LOG and r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "event, payload",
    [
        ("typing-start", {}),
        ("typing-start", {"chatId": 5}),
        ("typing-stop", {"chatId": UNKNOWN_ID, "isTyping": True}),
        ("typing-start", [UNKNOWN_ID]),
        ("join-chat-room", {"chatId": None}),
        ("leave-chat-room", {"room": UNKNOWN_ID}),
    ],
    ids=repr,
)
async def test_a_payload_that_breaks_the_events_schema_is_validation_failed_and_no_error(
    api: Api, sockets: Sockets, caplog: pytest.LogCaptureFixture, event: str, payload: Any
) -> None:
    opened = await sockets.open(await api.user("u"))
    with caplog.at_level(logging.INFO, logger=SOCKET_LOG):
        ack = await opened.call(event, payload)
    assert failure_code(ack) == "VALIDATION_FAILED"
    assert errors_logged(caplog) == []


async def test_a_fault_in_handler_code_is_an_internal_error_logged_with_its_traceback(
    api: Api, sockets: Sockets, presence: BrokenPresence, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, chat_id = await direct_chat(api)
    typist = await sockets.open(a)
    presence.failure = ValueError("presence lookup broke")
    with caplog.at_level(logging.INFO, logger=SOCKET_LOG):
        ack = await typist.call("typing-start", {"chatId": chat_id})
    presence.failure = None
    assert ack == {
        "success": False,
        "error": {"code": "INTERNAL_ERROR", "detail": "the event could not be handled"},
    }
    [record] = errors_logged(caplog)
    assert record.exc_info is not None and record.exc_info[1] is not None
    assert str(record.exc_info[1]) == "presence lookup broke"
    assert "Traceback" in caplog.text and "presence lookup broke" in caplog.text
    assert await typist.call("typing-stop", {"chatId": chat_id}) == {"success": True}
