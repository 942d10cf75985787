"""The command line: `python -m conformance --base-url URL` (also `chat-api conformance`).

Exit codes: 0 when every rule that ran passed (rules not run do not fail a run: the
report says why each did not run); 1 when any rule failed; 2 when the kit could not run
as asked (a bad option or fixture, a target that does not answer, a target without dev
endpoints and no fixture), with one line saying why.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import sys
from collections.abc import Sequence
from pathlib import Path

from conformance import __version__, reports
from conformance.registry import SECTIONS, by_section
from conformance.rules import RULES
from conformance.runner import Options, run
from conformance.sockets import EVENT_TIMEOUT_S, SocketOptions, default_path
from conformance.specs import Contract
from conformance.world import SetupError

EPILOG = """\
With the target's dev endpoints (the reference server has them on its embedded store),
the kit works in a sandbox of its own, creates its users and moves the sandbox's clock.
Without them, pass --fixture with the users it may act as (docs/conformance.md says the
format); rules that need what the target lacks are reported "not run" with the reason.

exit status: 0 every rule that ran passed, 1 a rule failed, 2 the kit could not run
"""


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "python -m conformance",
        description="Check a Chat API implementation against the reference contracts "
        "(openapi.yaml, asyncapi.yaml) and the rules of the Chat API page.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--base-url",
        help="the target, e.g. http://127.0.0.1:8080 (REST under /api, Socket.IO at /socket.io)",
    )
    parser.add_argument(
        "--fixture",
        type=Path,
        metavar="USERS.json",
        help="users to act as instead of the dev endpoints",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("conformance-report"),
        help="where report.html, junit.xml and results.json go (default: conformance-report)",
    )
    parser.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="ID",
        help="run only this rule or section (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list the rules and exit")
    parser.add_argument("--markdown", action="store_true", help="with --list: as a Markdown table")
    parser.add_argument(
        "--socketio-path",
        metavar="PATH",
        help="Socket.IO's path (default: socket.io under the base URL's path)",
    )
    parser.add_argument(
        "--transport",
        choices=("websocket", "polling"),
        default="websocket",
        help="the Socket.IO transport (default: websocket)",
    )
    parser.add_argument(
        "--event-timeout",
        type=float,
        default=EVENT_TIMEOUT_S,
        metavar="SECONDS",
        help="how long to wait for an expected event or acknowledgement "
        f"(default: {EVENT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--settle-ms",
        type=int,
        default=50,
        metavar="MS",
        help="after proving no event was queued, how long to wait for stragglers of a "
        "fan-out broker (default: 50)",
    )
    parser.add_argument("--sandbox", help="the sandbox name to use (default: conformance-<random>)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list passed rules in the summary too"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def listing() -> str:
    lines = []
    for section, rules in by_section(RULES).items():
        lines.append(f"{SECTIONS[section]}")
        for found in rules:
            needs = f"  [needs {', '.join(found.needs)}]" if found.needs else ""
            lines.append(f"  {found.id}{needs}\n      {found.statement}")
        lines.append("")
    return "\n".join(lines).rstrip()


def markdown() -> str:
    """The rules as docs/conformance.md lists them (a test keeps the two the same)."""
    lines = []
    for section, rules in by_section(RULES).items():
        lines += [
            f"**{SECTIONS[section]}**",
            "",
            "| Rule | Statement | Needs |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| `{r.id}` | {html.escape(r.statement, quote=False)} | {', '.join(r.needs)} |"
            for r in rules
        ]
        lines.append("")
    return "\n".join(lines).rstrip()


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.list:
        print(markdown() if args.markdown else listing())
        return 0
    if not args.base_url:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: --base-url is required", file=sys.stderr)
        return 2
    sockets = SocketOptions(
        path=(args.socketio_path or default_path(args.base_url)).strip("/"),
        transports=(args.transport,),
        settle_s=args.settle_ms / 1000,
        timeout_s=args.event_timeout,
    )
    options = Options(args.base_url, args.fixture, tuple(args.rule), sockets, sandbox=args.sandbox)
    try:
        result = asyncio.run(run(options))
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    written = reports.write(result, Contract.load(), args.report_dir)
    print(reports.console(result, verbose=args.verbose))
    print("reports: " + ", ".join(str(p) for p in written))
    return result.exit_code
