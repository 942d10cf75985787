"""Every knob of the server in one table: the fields of `Settings`.

Each field is declared once with `knob(...)`: its default, what it means, and how it is
set: an environment variable, a command-line flag, or only in code (`Settings(...)`, as
tests do). Everything else is derived from those declarations: `Settings.from_env()` reads
every variable with the knob's parser (one wording for every bad value), `ENV_VARS` lists
them, `__main__` builds the `serve` flags and the `--help` text from them, and
`markdown_table()` is the README's settings table (`tools/settings_table.py` writes it and
a test keeps it current). The defaults are the values of the requirements page; an empty
variable counts as unset.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
ALLOWED_MIME_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
)
LOCAL_ORIGIN_REGEX = r"^https?://(localhost|127\.0\.0\.1)(:\d+)?$"
STORE_ENGINES = ("indexed", "plain")
LOG_FORMATS = ("text", "json")
TRUTHY = {"1", "true", "yes", "on"}

T = TypeVar("T")
# (where the value came from: a variable or a flag, the raw text) -> the setting's value
Parse = Callable[[str, str], Any]


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


def whole(minimum: int = 1) -> Parse:
    """A whole number of at least `minimum`."""

    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


def positive(name: str, raw: str) -> float:
    """A number above zero (seconds, rates)."""
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name} must be more than 0, got {raw}")
    return value


def text(_name: str, raw: str) -> str:
    return raw


def lowercase(_name: str, raw: str) -> str:
    return raw.strip().lower()


def switch(_name: str, raw: str) -> bool:
    return raw.strip().lower() in TRUTHY


def on_or_default(name: str, raw: str) -> bool | None:
    """On when the variable says so; otherwise the field's own rule decides (None)."""
    return True if switch(name, raw) else None


def comma_list(_name: str, raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def default_parser(default: Any, minimum: int) -> Parse:
    if isinstance(default, bool):
        return switch
    if isinstance(default, int):
        return whole(minimum)
    if isinstance(default, float):
        return positive
    if isinstance(default, tuple):
        return comma_list
    return text


@dataclass(frozen=True)
class Knob:
    """How one setting is documented and set (the field holds its name and default)."""

    help: str
    env: str | None = None
    flag: str | None = None
    # for a flag that takes no value: the value it sets
    switch_value: Any = None
    parse: Parse = text
    # the default as the docs state it, when the value alone would mislead
    shown: str | None = None
    # the variable moves a whole run: `Settings(...)` in code and launched servers read it
    run_wide: bool = False


def knob(
    default: T,
    help: str,
    *,
    env: str | None = None,
    flag: str | None = None,
    switch_value: Any = None,
    parse: Parse | None = None,
    minimum: int = 1,
    shown: str | None = None,
    process_default: bool = False,
) -> T:
    """A field of `Settings`, declared with its row of the settings table.

    `process_default`: a `Settings(...)` built in code also reads the variable from this
    process's environment (so that one variable moves a whole test run).
    """
    parser = parse or default_parser(default, minimum)
    row = Knob(help, env, flag, switch_value, parser, shown, run_wide=process_default)
    if process_default and env is not None:

        def from_process() -> Any:
            raw = os.environ.get(env, "")
            return row.parse(env, raw) if raw.strip() else default

        made: T = field(default_factory=from_process, metadata={"knob": row})
        return made
    declared: T = field(default=default, metadata={"knob": row})
    return declared


def redis_db_number(url: str | None) -> int:
    """The database number a Redis URL selects (`/N` or `?db=N`; 0 when absent)."""
    if not url:
        return 0
    parts = urlsplit(url)
    raw = parse_qs(parts.query).get("db", [""])[0] or parts.path.strip("/")
    try:
        return int(raw) if raw else 0
    except ValueError:
        raise SettingsError(f"REDIS_URL names database {raw!r}, not a number") from None


KIB = 1024
MIB = 1024 * KIB
DAY = 24 * 3600


@dataclass(frozen=True)
class Settings:
    """The settings table: one row per field, in the order the docs list them. Build one
    from the environment (`from_env`) or in code (`Settings(rate_limit=5)`)."""

    # Serving
    host: str = knob("127.0.0.1", "interface to bind", flag="--host")
    port: int = knob(
        8080,
        "port to bind (0: any free port; the printed URLs name it)",
        env="PORT",
        flag="--port",
        minimum=0,
    )
    log_level: str = knob(
        "info",
        "debug, info, warning or error; at info, one line per request on `impl.access` "
        "(tokens are never logged)",
        env="LOG_LEVEL",
        flag="--log-level",
        parse=lowercase,
    )
    log_format: str = knob(
        "text",
        "`text`, or `json`: every log line one JSON object, with `requestId` and `userId` "
        "of the request it belongs to",
        env="LOG_FORMAT",
        flag="--log-format",
        parse=lowercase,
    )
    header_timeout_seconds: int = knob(
        10,
        "time a client has to send a request's headers (then 408 and close)",
        env="HTTP_HEADER_TIMEOUT_SECONDS",
    )
    body_timeout_seconds: int = knob(
        20,
        "longest pause while a client sends a body (then 408 and close)",
        env="HTTP_BODY_TIMEOUT_SECONDS",
    )
    max_header_bytes: int = knob(
        64 * KIB,
        "largest request head (request line and header lines); a larger one gets 431 and "
        "the connection is closed before the rest is read",
        env="HTTP_MAX_HEADER_BYTES",
    )
    max_header_count: int = knob(
        100,
        "most header lines in one request (more: 431 and close)",
        env="HTTP_MAX_HEADER_COUNT",
    )
    cors_origins: tuple[str, ...] = knob(
        (),
        "comma list of browser origins (REST and sockets, credentials allowed); others get "
        "no CORS grant and a refused socket",
        env="CORS_ORIGINS",
        shown="embedded: any `http://localhost:*`, `http://127.0.0.1:*`",
    )
    # The store
    mongo_uri: str | None = knob(
        None,
        "a real MongoDB (same code path, pymongo)",
        env="MONGODB_URI",
        flag="--mongo-uri",
        shown="the embedded in-memory store",
    )
    mongo_db: str = knob("chat", "database name", env="MONGODB_DB")
    mongo_timeout_ms: int = knob(
        2000,
        "how long a request waits for an unreachable store before 503",
        env="MONGO_TIMEOUT_MS",
    )
    # the embedded store: mongomock answering from the declared indexes, or plain mongomock
    store_engine: str = knob(
        "indexed",
        "embedded store only: `plain` runs on mongomock without the index engine",
        env="CHAT_STORE_ENGINE",
        parse=lowercase,
        process_default=True,
        # what the docs state whatever this process's environment says
        shown="`indexed`",
    )
    store_threads: bool = knob(
        False,
        "embedded store only: run store calls in worker threads as with MongoDB (tests)",
        env="CHAT_STORE_THREADS",
    )
    sandbox_db_prefix: str | None = knob(
        None,
        "with MONGODB_URI, sandbox `<name>` lives in database `<prefix><name>`",
        env="CHAT_SANDBOX_DB_PREFIX",
        shown="`<MONGODB_DB>-sandbox-`",
    )
    # Tokens and dev mode
    jwt_secret: str | None = knob(
        None,
        "HS256 secret, at least 32 bytes; required with MONGODB_URI",
        env="JWT_SECRET",
        shown="a fixed dev secret (embedded only)",
    )
    token_ttl_seconds: int = knob(7 * DAY, "lifetime of the tokens the server issues")
    dev: bool | None = knob(
        None,
        "dev endpoints even with a real store (the variable: `1`, `true`, `yes` or `on`)",
        env="CHAT_DEV",
        flag="--dev",
        switch_value=True,
        parse=on_or_default,
        shown="on when embedded",
    )
    seed_demo: bool = knob(
        True,
        "the embedded store starts with four demo users; `--no-demo` (or the variable set "
        "to `0`) leaves it empty",
        env="CHAT_DEMO_USERS",
        flag="--no-demo",
        switch_value=False,
        shown="with demo users",
    )
    # Fan-out through Redis
    redis_url: str | None = knob(
        None,
        "Socket.IO events and presence shared by all processes",
        env="REDIS_URL",
        flag="--redis-url",
        shown="in-process fan-out",
    )
    redis_channel: str | None = knob(
        None,
        "this deployment's pub/sub channel and presence key prefix (pub/sub ignores db "
        "numbers: two deployments on one Redis need different ones)",
        env="REDIS_CHANNEL",
        shown="`chat-api:<Redis db number>:<MONGODB_DB>`",
    )
    presence_ttl_seconds: int = knob(
        15,
        "a process's sockets stop counting as online this long after it stops renewing "
        "them (crash, kill)",
        env="PRESENCE_TTL_SECONDS",
    )
    redis_timeout_seconds: float = knob(
        1.0,
        "how long one Redis call may take; a timeout opens the circuit breaker (the process "
        "then serves from its own view)",
        env="REDIS_TIMEOUT_SECONDS",
    )
    redis_backoff_seconds: float = knob(
        5.0,
        "after a Redis timeout, Redis is left alone this long before a probe",
        env="REDIS_BACKOFF_SECONDS",
    )
    redis_max_backoff_seconds: float = knob(
        30.0,
        "the back-off doubles after each failed probe, up to this",
        env="REDIS_MAX_BACKOFF_SECONDS",
    )
    # The rules of the requirements page
    max_message_length: int = knob(5000, "code points per message", env="CHAT_MAX_MESSAGE_LENGTH")
    edit_window_seconds: int = knob(
        900, "edit window after `createdAt`", env="CHAT_EDIT_WINDOW_SECONDS"
    )
    rate_limit: int = knob(
        20,
        "accepted messages per user per CHAT_RATE_WINDOW_SECONDS (sliding)",
        env="CHAT_RATE_LIMIT",
    )
    rate_window_seconds: int = knob(
        60, "the window of both per-user rate limits", env="CHAT_RATE_WINDOW_SECONDS"
    )
    chat_create_rate_limit: int = knob(
        60,
        "new chats (direct, group, support, purchase-request) per user per window",
        env="CHAT_CREATE_RATE_LIMIT",
    )
    max_upload_bytes: int = knob(10 * MIB, "size of one attachment", env="CHAT_MAX_UPLOAD_BYTES")
    mime_types: tuple[str, ...] = knob(ALLOWED_MIME_TYPES, "attachment types, judged by bytes")
    typing_throttle_ms: int = knob(2000, "a repeated `typing-start` within this is not re-sent")
    typing_expires_ms: int = knob(5000, "`expiresInMs` of `user-typing`")
    event_retention_seconds: int = knob(7 * DAY, "how long chat events stay replayable")
    notification_retention_seconds: int = knob(90 * DAY, "how long notifications are kept")
    # Limits at the edge
    max_json_bytes: int = knob(1 * MIB, "largest JSON request body")
    multipart_allowance_bytes: int = knob(
        64 * KIB,
        "room over CHAT_MAX_UPLOAD_BYTES for the multipart envelope and caption: a larger "
        "`Content-Length` is refused before its body is read",
        env="CHAT_MULTIPART_ALLOWANCE_BYTES",
        minimum=0,
    )
    metadata_max_bytes: int = knob(
        16 * KIB, "largest `metadata` object, as compact JSON", env="CHAT_METADATA_MAX_BYTES"
    )
    metadata_max_depth: int = knob(
        8,
        "deepest `metadata` nesting (the object itself is level 1)",
        env="CHAT_METADATA_MAX_DEPTH",
    )
    socket_max_payload_bytes: int = knob(
        16 * KIB,
        "largest payload of one client event, as compact JSON (larger: PAYLOAD_TOO_LARGE)",
        env="SOCKET_MAX_PAYLOAD_BYTES",
    )
    socket_max_packet_bytes: int = knob(
        64 * KIB,
        "largest Engine.IO packet; a larger one closes the connection",
        env="SOCKET_MAX_PACKET_BYTES",
    )
    socket_connect_timeout_seconds: float = knob(
        10.0,
        "an Engine.IO connection that holds no Socket.IO connection this long (it never "
        "connected, was refused, or left) is closed",
        env="SOCKET_CONNECT_TIMEOUT_SECONDS",
    )
    socket_event_burst: int = knob(
        30,
        "client events one socket may send in a burst (then RATE_LIMITED)",
        env="SOCKET_EVENT_BURST",
    )
    socket_event_refill_per_second: float = knob(
        10.0,
        "how fast a socket's burst allowance refills",
        env="SOCKET_EVENT_REFILL_PER_SECOND",
    )
    # In code only
    max_sandboxes: int = knob(
        256,
        "sandboxes that may exist besides `default` (then 409 SANDBOX_LIMIT)",
        env="CHAT_MAX_SANDBOXES",
    )
    max_faults: int = knob(
        100,
        "pending injected faults per sandbox (then 409 FAULT_LIMIT)",
        env="CHAT_MAX_FAULTS",
    )
    journal_max_bytes: int = knob(
        64 * MIB,
        "what the request journals of all sandboxes keep together, in bytes (the oldest "
        "entry goes first)",
        env="CHAT_JOURNAL_MAX_BYTES",
        minimum=MIB,
    )
    validate_responses: bool = knob(False, "check every response against the spec (tests)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment's variables name; unset or empty ones keep defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, row in knobs():
            raw = env.get(row.env, "") if row.env else ""
            if raw.strip():  # a value as given: a secret keeps its spaces
                values[name] = row.parse(row.env or name, raw)
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields changed; `None` values leave a field alone."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def embedded(self) -> bool:
        return self.mongo_uri is None

    @property
    def threaded_store(self) -> bool:
        """Store calls leave the event loop: always with MongoDB, on request when embedded."""
        return not self.embedded or self.store_threads

    @property
    def dev_enabled(self) -> bool:
        return self.embedded if self.dev is None else self.dev

    @property
    def redis_prefix(self) -> str:
        """The deployment's Redis channel, also the prefix of its presence keys.

        Redis pub/sub ignores database numbers, so two deployments sharing one Redis
        server would hear each other's events on a fixed channel. The default names the
        Redis database number and the store's database: `chat-api:<db>:<MONGODB_DB>`.
        """
        if self.redis_channel:
            return self.redis_channel
        return f"chat-api:{redis_db_number(self.redis_url)}:{self.mongo_db}"

    def sandbox_database(self, name: str) -> str:
        """The MongoDB database that holds sandbox `name`."""
        prefix = self.sandbox_db_prefix or f"{self.mongo_db}-sandbox-"
        return prefix + name

    @property
    def signing_secret(self) -> str:
        if self.jwt_secret:
            return self.jwt_secret
        if self.embedded:
            return DEV_JWT_SECRET
        raise SettingsError("JWT_SECRET must be set when MONGODB_URI points at a real store")

    @property
    def cors_origin_regex(self) -> str | None:
        return LOCAL_ORIGIN_REGEX if self.embedded and not self.cors_origins else None

    def check(self) -> None:
        """Raise `SettingsError` with a one-line reason if the server must not start."""
        _ = self.signing_secret
        _ = self.redis_prefix
        if len(self.signing_secret.encode()) < 32:
            raise SettingsError("JWT_SECRET must be at least 32 bytes long (HS256 key length)")
        if self.store_engine not in STORE_ENGINES:
            raise SettingsError(f"CHAT_STORE_ENGINE must be one of {', '.join(STORE_ENGINES)}")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")


def knobs() -> Iterator[tuple[str, Knob]]:
    """(field name, row) for every setting, in the table's order."""
    for f in fields(Settings):
        yield f.name, f.metadata["knob"]


def _field(name: str) -> Field[Any]:
    return next(f for f in fields(Settings) if f.name == name)


# Every variable `Settings.from_env` reads (a launched server starts without any of them).
ENV_VARS = tuple(row.env for _, row in knobs() if row.env)
# The variables that move a whole test run (CHAT_STORE_ENGINE=plain), also in the servers
# it launches.
RUN_WIDE_VARS = tuple(row.env for _, row in knobs() if row.env and row.run_wide)


def default_text(name: str) -> str:
    """A setting's default as the docs state it."""
    row = _field(name).metadata["knob"]
    if row.shown is not None:
        return str(row.shown)
    declared = _field(name)
    value = declared.default
    if value is MISSING and callable(declared.default_factory):
        value = declared.default_factory()
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def help_text() -> str:
    """The variables and their flags, as `python -m impl serve --help` ends."""
    lines = ["environment variables (flags win over them; an empty value counts as unset):"]
    for name, row in knobs():
        if row.env is None:
            continue
        flag = f", {row.flag}" if row.flag else ""
        default = default_text(name).replace("`", "")
        lines.append(f"  {row.env}{flag}  (default: {default})")
        lines += textwrap.wrap(
            row.help.replace("`", ""), 79, initial_indent=" " * 6, subsequent_indent=" " * 6
        )
    return "\n".join(lines)


def markdown_table() -> str:
    """The README's settings table: every setting a variable or a flag reaches."""
    lines = ["| Variable | Flag | Default | Meaning |", "| --- | --- | --- | --- |"]
    for name, row in knobs():
        if row.env is None and row.flag is None:
            continue
        variable = f"`{row.env}`" if row.env else ""
        flag = f"`{row.flag}`" if row.flag else ""
        lines.append(f"| {variable} | {flag} | {default_text(name)} | {row.help} |")
    return "\n".join(lines)
