"""The processes of a soak run: a throwaway Redis, one Chat API server on it, the freeze
of Redis (SIGSTOP, then SIGCONT), and the server's resident memory read from /proc.

Redis is started through ``benchmarks.procs`` (own session, output to a log file,
stopped by its pid only), the Chat API through ``impl.launcher`` (the one way every
helper starts ``python -m impl serve``: nothing of the calling shell's settings reaches
it, so the run measures the defaults); both bind 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from benchmarks import procs
from impl.launcher import Launched, ServerFailed

START_TIMEOUT_S = 60.0


class ServiceFailed(RuntimeError):
    """A process did not start; the message ends with its log."""


def redis_available() -> bool:
    """True when a ``redis-server`` binary is on PATH."""
    return shutil.which("redis-server") is not None


def _wait_redis(server: procs.Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not server.alive():
            raise ServiceFailed(f"redis-server exited early:\n{server.log_tail()}")
        try:
            with redis.Redis(host=procs.HOST, port=server.port, socket_timeout=1) as client:
                if client.ping():
                    return
        except redis.RedisError:
            time.sleep(0.1)
    raise ServiceFailed(f"redis-server not ready:\n{server.log_tail()}")


def start_redis(log_dir: Path) -> procs.Server:
    """``redis-server`` on a free port, in memory only (no RDB, no AOF)."""
    port = procs.free_port()
    cmd = ["redis-server", "--bind", procs.HOST, "--port", str(port)]
    cmd += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    server = procs.start("redis", cmd, port, log_dir, core=None)
    _wait_redis(server)
    return server


def start_chat_api(redis_port: int, log_dir: Path) -> Launched:
    """``python -m impl serve --no-demo`` on the embedded store, fanning out through Redis."""
    settings = {"REDIS_URL": f"redis://{procs.HOST}:{redis_port}/0", "LOG_LEVEL": "warning"}
    server = Launched(settings=settings, log_path=log_dir / "chat-api.log")
    try:
        return server.start(START_TIMEOUT_S)
    except ServerFailed as exc:
        raise ServiceFailed(str(exc)) from None


@contextlib.contextmanager
def running(log_dir: Path) -> Iterator[tuple[procs.Server, Launched]]:
    """Redis and the Chat API for the length of a ``with`` block; both stopped after."""
    redis_server = start_redis(log_dir)
    try:
        chat_api = start_chat_api(redis_server.port, log_dir)
        try:
            yield redis_server, chat_api
        finally:
            chat_api.stop(grace=15)
    finally:
        thaw(redis_server)
        procs.stop(redis_server)


def thaw(server: procs.Server) -> None:
    """SIGCONT, harmless when the process is not stopped."""
    if server.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.process.pid, signal.SIGCONT)


@dataclass
class Freeze:
    """When Redis was stopped and continued, in seconds since the load began."""

    planned_at_s: float
    seconds: float
    began_s: float | None = None
    ended_s: float | None = None

    def phase(self, at_s: float) -> str:
        """``before``, ``during`` or ``after`` the freeze, for a moment of the run."""
        if self.began_s is None or at_s < self.began_s:
            return "before"
        if self.ended_s is None or at_s < self.ended_s:
            return "during"
        return "after"


async def freeze_redis(server: procs.Server, freeze: Freeze, began: float) -> None:
    """Stop Redis at ``freeze.planned_at_s`` for ``freeze.seconds``, then continue it."""
    if freeze.seconds <= 0:
        return
    await asyncio.sleep(max(0.0, began + freeze.planned_at_s - time.monotonic()))
    os.kill(server.process.pid, signal.SIGSTOP)
    freeze.began_s = time.monotonic() - began
    try:
        await asyncio.sleep(freeze.seconds)
    finally:
        thaw(server)
        freeze.ended_s = time.monotonic() - began


def rss_kib(pid: int) -> int | None:
    """The process's resident set size (VmRSS) in KiB, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


@dataclass
class RssSamples:
    """(seconds since the load began, RSS in KiB, messages acknowledged so far) samples."""

    every_s: float
    samples: list[tuple[float, int, int]] = field(default_factory=list)


@asynccontextmanager
async def sampling_rss(
    pid: int, every_s: float, began: float, stored: Callable[[], int]
) -> AsyncIterator[RssSamples]:
    """Sample the RSS of ``pid`` every ``every_s`` seconds while the block runs, with
    ``stored()`` (messages acknowledged so far) beside each sample."""
    found = RssSamples(every_s)

    async def sample() -> None:
        while True:
            kib = rss_kib(pid)
            if kib is not None:
                found.samples.append((round(time.monotonic() - began, 2), kib, stored()))
            await asyncio.sleep(every_s)

    task = asyncio.create_task(sample())
    try:
        yield found
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
