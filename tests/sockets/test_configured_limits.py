"""Socket.IO limits that are settings hold as configured, not as their defaults: the
per-connection event budget (burst and refill) and the largest event payload."""

from __future__ import annotations

import asyncio

import pytest

from conftest import Api
from impl.settings import Settings
from sockets.support import Sockets, World, build_world, direct_chat, failure_code

BURST = 5
PAYLOAD_LIMIT = 200


@pytest.fixture(scope="module")
def module_world() -> World:
    return build_world(
        Settings(
            validate_responses=True,
            socket_event_burst=BURST,
            socket_event_refill_per_second=0.1,
            socket_max_payload_bytes=PAYLOAD_LIMIT,
        )
    )


async def test_the_configured_burst_is_what_a_connection_may_send_at_once(
    api: Api, sockets: Sockets
) -> None:
    a, _, chat_id = await direct_chat(api)
    opened = await sockets.open(a)
    acks = await asyncio.gather(*(opened.call("join-chat-room", chat_id) for _ in range(12)))
    answered = [ack for ack in acks if ack["success"]]
    refused = {failure_code(ack) for ack in acks if not ack["success"]}
    # a refill of one event per 10 s adds none while twelve calls are in flight
    assert len(answered) == BURST
    assert refused == {"RATE_LIMITED"}


async def test_a_payload_over_the_configured_size_is_refused_as_too_large(
    api: Api, sockets: Sockets
) -> None:
    opened = await sockets.open(await api.user("u"))
    ack = await opened.call("join-chat-room", "x" * (PAYLOAD_LIMIT + 1))
    assert failure_code(ack) == "PAYLOAD_TOO_LARGE"
    small = await opened.call("join-chat-room", "x" * (PAYLOAD_LIMIT // 2))
    assert failure_code(small) == "VALIDATION_FAILED"
