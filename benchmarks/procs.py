"""Start, probe and stop the server processes of a benchmark run.

Every process is started by this module, remembered by its pid, and stopped by that
pid only (SIGTERM, then SIGKILL after a grace period). Servers bind 127.0.0.1 only.
Every process gets the environment policy of ``impl.launcher.server_env``: none of the
Chat API's settings variables of the calling shell (a CI's ``REDIS_URL``, say), only
those the run names, so the seeded servers measure what the plan says.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmarks.loadgen import pin_prefix
from impl.launcher import server_env

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A server process started for the run."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.process.poll() is None

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the server's combined output, for error messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def uvicorn_command(app: str, port: int) -> list[str]:
    """uvicorn on uvloop + httptools, one process, no access log."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        HOST,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def start(
    name: str,
    cmd: list[str],
    port: int,
    log_dir: Path,
    core: int | None,
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``cmd`` (pinned to ``core`` when possible) with output into a log file;
    ``env`` names the settings variables it gets."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pin_prefix(core) + cmd,
            cwd=REPO,
            env=server_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name=name, port=port, process=process, log_path=log_path)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers below 500 (any client error still proves it is up)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as err:
        return err.code < 500
    except (OSError, ValueError):
        return False


def wait_ready(server: Server, path: str, timeout_s: float) -> None:
    """Poll ``path`` until it answers; raise with the log tail if it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited early:\n{server.log_tail()}")
        if http_ok(server.base + path):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout_s:.0f}s:\n{server.log_tail()}")


def wait_idle(server: Server, path: str, timeout_s: float, fast_s: float = 0.05) -> float:
    """Probe ``path`` until one answer takes under ``fast_s``; returns the seconds waited.

    The probe's own answer time is the signal: a server still working through requests
    the load generator abandoned answers it late.
    """
    began = time.monotonic()
    while time.monotonic() - began < timeout_s and server.alive():
        sent = time.monotonic()
        http_ok(server.base + path, timeout=timeout_s)
        if time.monotonic() - sent < fast_s:
            break
    return round(time.monotonic() - began, 3)


def stop(server: Server, grace_s: float = 5.0) -> None:
    """Stop the server's process group (it was started in its own session)."""
    if not server.alive():
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=grace_s)
