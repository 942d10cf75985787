"""The one way tests wait for a state they cannot await: poll a condition until it holds.

Use it only where nothing can be awaited (a key expiring inside Redis, a server-side
disconnect a client cannot observe, a queue emptying); events and log lines have waits of
their own (`Socket.next`, `Launched.wait_for`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

INTERVAL = 0.01


async def until(
    condition: Callable[[], Awaitable[bool]],
    within: float = 2.0,
    message: str = "condition not met in time",
) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(INTERVAL)


def until_sync(
    condition: Callable[[], bool], within: float = 2.0, message: str = "condition not met in time"
) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(INTERVAL)
