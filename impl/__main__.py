"""The command line: `python -m impl serve` and `python -m impl token USER_ID`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import warnings
from collections.abc import Sequence

from impl.settings import Settings, SettingsError

# connexion imports starlette's test client, which warns when httpx is installed; the
# server never uses it, so keep the notice out of the operator's console.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

SETTINGS_HELP = """
environment variables (flags win over them):
  MONGODB_URI            a real MongoDB (default: the embedded in-memory store)
  MONGODB_DB             database name (default: chat)
  MONGO_TIMEOUT_MS       how long a request waits for an unreachable store (2000)
  REDIS_URL              share Socket.IO events and presence between processes
  REDIS_CHANNEL          pub/sub channel and presence key prefix (default:
                         chat-api:<Redis db number>:<MONGODB_DB>)
  PRESENCE_TTL_SECONDS   a dead process's sockets count as offline after this (15)
  JWT_SECRET             HS256 secret; required with MONGODB_URI
  CHAT_DEV=1             dev endpoints with a real store (always on when embedded)
  CHAT_MAX_MESSAGE_LENGTH (5000)   CHAT_EDIT_WINDOW_SECONDS (900)
  CHAT_RATE_LIMIT (20) per CHAT_RATE_WINDOW_SECONDS (60)
  CHAT_CREATE_RATE_LIMIT (60)      new chats per user per window
  CHAT_MAX_UPLOAD_BYTES (10485760)
  CORS_ORIGINS           comma list of browser origins (embedded default: any
                         http://localhost:* and http://127.0.0.1:*)
  HTTP_HEADER_TIMEOUT_SECONDS (10)  time a client has to send a request's headers
  HTTP_BODY_TIMEOUT_SECONDS (20)    longest pause while a client sends a body (408)
  LOG_LEVEL              debug, info, warning, error (info)
  CHAT_STORE_ENGINE      embedded store: indexed (default) or plain mongomock
  CHAT_STORE_THREADS=1   embedded store: store calls in worker threads, as with MongoDB
  CHAT_SANDBOX_DB_PREFIX with MONGODB_URI, sandbox <name> is the database
                         <prefix><name> (default: <MONGODB_DB>-sandbox-)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m impl",
        description="Reference server of the marketplace Chat API (REST + Socket.IO).",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="start the server",
        description="Serve REST, Socket.IO, the spec files and the docs in one process.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port to bind (default 8080)")
    serve.add_argument("--mongo-uri", default=None, help="a real MongoDB (overrides MONGODB_URI)")
    serve.add_argument("--redis-url", default=None, help="Redis for multi-process fan-out")
    serve.add_argument(
        "--dev", action="store_true", default=None, help="dev endpoints with a real store"
    )
    serve.add_argument("--no-demo", action="store_true", help="do not create the demo users")
    serve.add_argument("--log-level", default=None, help="debug, info, warning or error")
    token = commands.add_parser(
        "token",
        help="print a bearer token for an existing user",
        description="Print a token for a user of the configured store "
        "(JWT_SECRET must match the server's).",
    )
    token.add_argument("user_id", help="the user's 24-hex id")
    token.add_argument("--mongo-uri", default=None, help="a real MongoDB (overrides MONGODB_URI)")
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (default 7 days)")
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from impl.app import create_app
    from impl.domain.dev import seed_demo
    from impl.store.database import StoreRefused
    from impl.web.serving import PortUnavailable, bind, server_for

    settings = settings.with_overrides(
        host=args.host,
        port=args.port,
        mongo_uri=args.mongo_uri,
        redis_url=args.redis_url,
        dev=args.dev,
        log_level=args.log_level,
        seed_demo=False if args.no_demo else None,
    )
    settings.check()
    try:
        listener = bind(settings.host, settings.port)
    except PortUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
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
        server_for(app, settings, announce=announce).run(sockets=[listener])
    if app.fatal_error is not None:
        print(f"error: {app.fatal_error}", file=sys.stderr)
        return 1
    if stopped_by:
        log.info("stopped by %s after draining requests", signal.Signals(stopped_by[0]).name)
    return 0


def token(args: argparse.Namespace, settings: Settings) -> int:
    from bson import ObjectId
    from bson.errors import InvalidId

    from impl.auth import issue_token
    from impl.domain.dev import DEMO_CAST
    from impl.store import Store
    from impl.store.database import connect

    settings = settings.with_overrides(mongo_uri=args.mongo_uri)
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
