"""Run a command against a live server: start `python -m impl serve` on a free port of
127.0.0.1 with the embedded store, wait until it answers, run the command, stop the
server (by its pid) and exit with the command's code.

    python tools/sdk/live_server.py [--log FILE] -- COMMAND [ARG ...]

Every `{url}` in the arguments becomes the server's base URL, which the command also
finds in the environment as CHAT_API_URL. This is how the SDK flows and the browser
test reach a real server, and how a frontend's test suite can (see
docs/contract-testing.md). `LiveServer` is the same thing for Python code.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# Settings that would point the server away from a fresh embedded store.
UNSET_ENV = ("MONGODB_URI", "REDIS_URL", "CORS_ORIGINS", "CHAT_DEV")


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("LOG_LEVEL", "warning")
    return env


class ServerFailed(RuntimeError):
    """The server exited or never answered; the message ends with its log."""


class LiveServer:
    """`python -m impl serve` in a child process, for the length of a `with` block."""

    def __init__(self, log_path: Path | None = None, *, demo: bool = False) -> None:
        """`demo=True` keeps the demo users `serve` creates (`python -m impl token ID`
        gives their tokens); by default the store starts empty."""
        self.demo = demo
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.own_log = log_path is None
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="chat-api-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self.own_log and exc_type is None:
            self.log_path.unlink(missing_ok=True)

    def start(self) -> None:
        command = [sys.executable, "-m", "impl", "serve", "--host", HOST]
        command += ["--port", str(self.port), *([] if self.demo else ["--no-demo"])]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                command, cwd=ROOT, env=server_env(), stdout=log, stderr=subprocess.STDOUT
            )
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerFailed(f"the server exited with {self.process.returncode}{self.tail()}")
            if self.answers():
                return
            time.sleep(0.1)
        self.stop()
        raise ServerFailed(f"the server did not answer within {START_TIMEOUT_S:.0f} s{self.tail()}")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/openapi.json", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM to our child by its pid, SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def tail(self, chars: int = 3000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
        return f"\n--- server log ({self.log_path}) ---\n{text}" if text else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run COMMAND against a fresh server; {url} in COMMAND is its base URL."
    )
    parser.add_argument("--log", type=Path, default=None, help="write the server's log here")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    try:
        with LiveServer(args.log) as server:
            print(f"server: {server.url} (log: {server.log_path})", file=sys.stderr, flush=True)
            argv_out = [part.replace("{url}", server.url) for part in command]
            env = {**os.environ, "CHAT_API_URL": server.url}
            code = subprocess.call(argv_out, env=env)  # noqa: S603 (the caller's command)
            if code != 0:
                print(server.tail(), file=sys.stderr)
            return code
    except ServerFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
