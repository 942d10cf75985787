"""Run a command against a live server: start `python -m impl serve` on a free port of
127.0.0.1 with the embedded store, wait until it listens, run the command, stop the
server and exit with the command's code.

    python tools/sdk/live_server.py [--log FILE] [--demo] [--set NAME=VALUE ...] \
        -- COMMAND [ARG ...]

Every `{url}` in the arguments becomes the server's base URL, which the command also
finds in the environment as CHAT_API_URL. This is how the SDK flows and the browser
test reach a real server, and how a frontend's test suite can (see
docs/contract-testing.md). The server is started by `impl.launcher.Launched` (the same
thing for Python code), so no settings variable of the calling shell reaches it: name
the ones the server should get with `--set` (`--set CHAT_RATE_LIMIT=5`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from a checkout: its package
    sys.path.insert(0, str(ROOT))

from impl.launcher import Launched, ServerFailed  # noqa: E402 - found through the line above


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run COMMAND against a fresh server; {url} in COMMAND is its base URL."
    )
    parser.add_argument("--log", type=Path, default=None, help="write the server's log here")
    parser.add_argument(
        "--demo", action="store_true", help="keep the demo users (`python -m impl token ID`)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a settings variable for the server (python -m impl serve --help lists them)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...]")
    args = parser.parse_args(argv)
    settings = {"LOG_LEVEL": "warning"}
    for assignment in args.set:
        name, equals, value = assignment.partition("=")
        if not equals:
            parser.error(f"--set takes NAME=VALUE, not {assignment!r}")
        settings[name] = value
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    if args.log is not None:
        args.log.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = Launched(settings=settings, demo=args.demo, log_path=args.log).start()
    except (ServerFailed, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with server:
        print(f"server: {server.url} (log: {args.log or 'kept in memory'})", file=sys.stderr)
        argv_out = [part.replace("{url}", server.url) for part in command]
        env = {**os.environ, "CHAT_API_URL": server.url}
        code = subprocess.call(argv_out, env=env)  # noqa: S603 (the caller's command)
        if code != 0:
            print(server.tail(), file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
