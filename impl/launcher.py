"""Start `python -m impl serve` in a child process: the one way every helper does it.

The notebooks, `tools/sdk/live_server.py` (SDK flows, the browser test, a frontend's CI),
the tests and the benchmarks all start servers through `Launched`, with one environment
policy (`server_env`): the child gets this process's environment minus every variable
the settings table reads, plus exactly the settings the caller names. So nothing a shell
or CI exports (`REDIS_URL`, `MONGODB_URI`, `CHAT_RATE_LIMIT`...) reaches a server that
did not ask for it.

The server binds port 0 and prints `Docs: <url>/ ...` once it listens: `start()` waits
for that line, which names the port, so no port is guessed and nothing polls. The child's
stdout and stderr are one stream, kept in memory (and in `log_path` when given), and a
caller can wait for a line of it (`wait_for`), as the tests wait for the server's log.
`stop()` sends SIGTERM, waits, then kills. `Launched.command(...)` runs any command line
that ends up serving (the README's own, in a test), with the environment it is given; it
runs in a process group of its own, which a stop signals whole.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from impl.resources import CHECKOUT, INSTALLED
from impl.settings import ENV_VARS, RUN_WIDE_VARS

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# what `serve` prints once it accepts connections
LISTENING = re.compile(r"^Docs: (http://\S+?)/\s")


class ServerFailed(RuntimeError):
    """The server exited, or did not say what was awaited in time; the message ends with
    the end of its output."""


def server_env(
    settings: Mapping[str, str] | None = None,
    *,
    keep: Iterable[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a launched server: `base` (this process's environment) without
    any settings variable except those named in `keep` and the run-wide ones (a suite run
    on plain mongomock launches plain servers), plus `settings` (variable -> value). A
    name in `settings` that the server does not read is refused."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(ENV_VARS))
    if unknown:
        raise ValueError(f"not settings variables: {', '.join(unknown)}")
    kept = set(keep).union(RUN_WIDE_VARS)
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if k not in ENV_VARS or k in kept}
    env.update(settings)
    if not INSTALLED:  # the child imports this same checkout, wherever it starts
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    return env


class Launched:
    """One `serve` process. `args` are extra flags; `demo` keeps the demo users.

    `program` replaces `python -m impl` (an installed `chat-api` script, say): it runs its
    own installed package, so no `PYTHON*` variable (this checkout on `PYTHONPATH`
    included) reaches it."""

    def __init__(
        self,
        *args: str,
        settings: Mapping[str, str] | None = None,
        keep: Iterable[str] = (),
        demo: bool = False,
        log_path: Path | None = None,
        program: Sequence[str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.program = list(program or [sys.executable, "-m", "impl"])
        self.args = ["serve", "--host", HOST, "--port", "0", *([] if demo else ["--no-demo"])]
        self.args += args
        self.env = server_env(settings, keep=keep)
        if program is not None:
            self.env = {k: v for k, v in self.env.items() if not k.startswith("PYTHON")}
        self.log_path = log_path
        self.cwd = cwd or (CHECKOUT if not INSTALLED else None)
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.ended = False  # the output reached its end: the process is exiting
        self.changed = threading.Condition()
        self.seen = 0  # lines before this one were looked at by `wait_for`
        self.reader: threading.Thread | None = None
        self.group = False  # started as a process group of its own (`command`)

    @classmethod
    def command(
        cls, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None
    ) -> Launched:
        """`argv` as it is (no `serve` flags added), with exactly `env`: a shell line that
        installs and then serves, say. It must print the `Docs:` line like `serve`."""
        launched = cls(program=argv, cwd=cwd)
        launched.args = []
        launched.env = dict(env)
        launched.group = True
        return launched

    def __enter__(self) -> Launched:
        """Start the server unless `start()` already did."""
        return self if self.process is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = START_TIMEOUT_S) -> Launched:
        """Start the server and return once it listens (`url` is then its base URL)."""
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*self.program, *self.args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=self.group,
        )
        atexit.register(self.stop)
        self.reader = threading.Thread(target=self._read, args=(self.process.stdout,))
        self.reader.daemon = True
        self.reader.start()
        try:
            line = self.wait_for("Docs: ", timeout)
            found = LISTENING.match(line)
            if found is None:
                raise ServerFailed(f"no URL in the line {line.strip()!r}{self.tail()}")
        except ServerFailed:
            self.stop()
            raise
        self.url = found.group(1)
        return self

    def _read(self, stream: IO[str]) -> None:
        log = self.log_path.open("w", encoding="utf-8") if self.log_path else None
        try:
            for line in stream:
                if log is not None:
                    log.write(line)
                    log.flush()
                with self.changed:
                    self.lines.append(line)
                    self.changed.notify_all()
        finally:
            if log is not None:
                log.close()
            with self.changed:
                self.ended = True
                self.changed.notify_all()

    def wait_for(self, text: str, within: float = 20.0) -> str:
        """The next line (after those an earlier wait returned) that holds `text`."""
        deadline = time.monotonic() + within
        with self.changed:
            while True:
                for index in range(self.seen, len(self.lines)):
                    if text in self.lines[index]:
                        self.seen = index + 1
                        return self.lines[index]
                self.seen = len(self.lines)
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    why = "the server's output ended" if self.ended else f"{within:g} s passed"
                    raise ServerFailed(f"no line with {text!r}: {why}{self.tail()}")
                self.changed.wait(left)

    def output(self) -> str:
        """Everything the server printed so far."""
        with self.changed:
            return "".join(self.lines)

    def tail(self, chars: int = 3000) -> str:
        text = "".join(self.lines)[-chars:]
        return f"\n--- server output ---\n{text}" if text else ""

    def _started(self) -> subprocess.Popen[str]:
        if self.process is None:
            raise RuntimeError("the server has not been started")
        return self.process

    @property
    def pid(self) -> int:
        return self._started().pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        self._started().send_signal(signum)

    def wait(self, within: float = STOP_TIMEOUT_S) -> int:
        """The exit code, once the process has exited (within `within` seconds)."""
        process = self._started()
        code = process.wait(within)
        if self.reader is not None:
            self.reader.join(within)
        if process.stdout is not None and not self.reader_alive:
            process.stdout.close()
        return code

    @property
    def reader_alive(self) -> bool:
        return self.reader is not None and self.reader.is_alive()

    def stop(self, grace: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL if it is still there after `grace` seconds; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._send(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self._send(signal.SIGKILL)
        elif self.group:  # a shell that is gone may leave its children behind
            self._send(signal.SIGKILL)
        code = self.wait()
        atexit.unregister(self.stop)
        return code

    def _send(self, signum: int) -> None:
        process = self._started()
        if not self.group:
            process.send_signal(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<python -m impl {' '.join(self.args)}: {state}>"
