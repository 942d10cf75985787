"""The command line: `python -m impl serve`, `python -m impl token USER_ID`, and
`python -m impl conformance --base-url URL`, which hands over to the conformance kit
(`conformance.cli`, a package of its own that imports nothing of the server)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from impl.settings import Settings, SettingsError, default_text, help_text, knobs

CONFORMANCE = "conformance"


def add_setting_flags(parser: argparse.ArgumentParser, *names: str) -> None:
    """The flags of the settings table (those of `names`, or all), each stored under its
    field's name as given; `flag_settings` parses them."""
    for name, row in knobs():
        if row.flag is None or (names and name not in names):
            continue
        described = f"{row.help} (default: {default_text(name)})".replace("`", "")
        if row.switch_value is not None:
            parser.add_argument(
                row.flag, dest=name, action="store_const", const=row.switch_value, help=described
            )
        else:
            parser.add_argument(row.flag, dest=name, metavar=name.upper(), help=described)


def flag_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gave, parsed as their variables would be."""
    given: dict[str, Any] = {}
    for name, row in knobs():
        raw = getattr(args, name, None)
        if raw is None or row.flag is None:
            continue
        given[name] = raw if row.switch_value is not None else row.parse(row.flag, raw)
    return given


def program_name(argv0: str | None = None) -> str:
    """How the user started us: `chat-api` (the console script) or `python -m impl`."""
    started_as = Path(argv0 if argv0 is not None else sys.argv[0]).name
    return "python -m impl" if started_as in ("__main__.py", "") else started_as


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name(),
        description="Reference server of the marketplace Chat API (REST + Socket.IO).",
        epilog=help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="start the server",
        description="Serve REST, Socket.IO, the spec files and the docs in one process.",
        epilog=help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_setting_flags(serve)
    token = commands.add_parser(
        "token",
        help="print a bearer token for an existing user",
        description="Print a token for a user of the configured store "
        "(JWT_SECRET must match the server's).",
    )
    token.add_argument("user_id", help="the user's 24-hex id")
    add_setting_flags(token, "mongo_uri")
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (default 7 days)")
    commands.add_parser(
        CONFORMANCE,
        help="check an implementation (this server or any other) against the contracts",
        description="The conformance kit; `conformance --help` lists its options.",
        add_help=False,
    )
    return parser


def hand_to_kit(argv: Sequence[str]) -> int:
    """Hand the rest of the command line to the conformance kit."""
    from conformance.cli import main as kit

    return kit(argv, prog=f"{program_name()} {CONFORMANCE}")


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from impl import logs
    from impl.app import create_app
    from impl.domain.dev import seed_demo
    from impl.serve import PortUnavailable, bind, server_for
    from impl.store.database import StoreRefused

    settings = settings.with_overrides(**flag_settings(args))
    settings.check()
    try:
        listener = bind(settings.host, settings.port)
    except PortUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # `--port 0` takes any free port: from here on the settings name the one bound
    settings = settings.with_overrides(port=listener.getsockname()[1])
    logs.configure(settings.log_level, settings.log_format)
    log = logging.getLogger("impl")
    if settings.embedded and not settings.jwt_secret:
        log.warning(
            "JWT_SECRET is not set: using the fixed DEVELOPMENT secret (embedded store only)"
        )
    try:
        app = create_app(settings)
    except StoreRefused as exc:
        listener.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = f"http://{settings.host}:{settings.port}"
    if settings.embedded and settings.seed_demo:
        print("Demo users (embedded store):", flush=True)
        for user, token in seed_demo(app.services):
            print(f"  {user['role']:<8} {user['name']:<12} {user['_id']}  {token}", flush=True)
    # uvicorn closes the sockets and drains in-flight requests on SIGTERM/SIGINT, then
    # re-raises the signal to the handler that was there before it; a quiet one here
    # makes a drained stop exit 0.
    stopped_by: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, _frame: stopped_by.append(received))

    def announce() -> None:
        print(f"Docs: {base}/   REST: {base}/api/chat   Socket.IO: {base}/socket.io", flush=True)

    with listener:
        server_for(app, settings, announce=announce, settle=True).run(sockets=[listener])
    if app.fatal_error is not None:
        print(f"error: {app.fatal_error}", file=sys.stderr)
        return 1
    if stopped_by:
        log.info("stopped by %s after draining requests", signal.Signals(stopped_by[0]).name)
    return 0


def token(args: argparse.Namespace, settings: Settings) -> int:
    from bson import ObjectId
    from bson.errors import InvalidId

    from impl.domain.dev import DEMO_CAST
    from impl.store import Store
    from impl.store.database import connect
    from impl.tokens import issue_token

    settings = settings.with_overrides(**flag_settings(args))
    settings.check()
    try:
        user_id = ObjectId(args.user_id)
    except (InvalidId, TypeError):
        print(f"error: {args.user_id!r} is not a 24-hex user id", file=sys.stderr)
        return 2
    if settings.embedded:
        known = {ObjectId(cast[0]) for cast in DEMO_CAST}
        exists = user_id in known
        hint = (
            "the embedded store lives inside the server: use a demo user id or POST /api/dev/users"
        )
    else:
        exists = Store(connect(settings)).users.get(user_id) is not None
        hint = "no such user in the store"
    if not exists:
        print(f"error: unknown user {user_id} ({hint})", file=sys.stderr)
        return 1
    print(issue_token(settings, user_id, args.ttl))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # connexion imports starlette's test client, which warns when httpx is installed; the
    # server never uses it, so keep the notice out of the operator's console (and only
    # there: importing this module changes no filter).
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [CONFORMANCE]:  # its options are the kit's own
        return hand_to_kit(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            return serve(args, settings)
        return token(args, settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
