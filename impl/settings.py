"""Every knob of the server in one place: environment variables, overridable by flags.

`Settings.from_env()` reads the environment; `__main__` applies command-line flags on top.
The defaults are the values of the requirements page.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
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


# Every variable `Settings.from_env` reads (the notebooks start servers without them).
ENV_VARS = (
    "MONGODB_URI",
    "MONGODB_DB",
    "MONGO_TIMEOUT_MS",
    "REDIS_URL",
    "REDIS_CHANNEL",
    "PRESENCE_TTL_SECONDS",
    "JWT_SECRET",
    "CHAT_DEV",
    "CHAT_MAX_MESSAGE_LENGTH",
    "CHAT_EDIT_WINDOW_SECONDS",
    "CHAT_RATE_LIMIT",
    "CHAT_RATE_WINDOW_SECONDS",
    "CHAT_CREATE_RATE_LIMIT",
    "CHAT_MAX_UPLOAD_BYTES",
    "CORS_ORIGINS",
    "HTTP_HEADER_TIMEOUT_SECONDS",
    "HTTP_BODY_TIMEOUT_SECONDS",
    "LOG_LEVEL",
    "CHAT_STORE_ENGINE",
    "CHAT_STORE_THREADS",
    "CHAT_SANDBOX_DB_PREFIX",
)
STORE_ENGINES = ("indexed", "plain")


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _engine(env: Mapping[str, str]) -> str:
    return env.get("CHAT_STORE_ENGINE", "").strip().lower() or "indexed"


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


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    mongo_uri: str | None = None
    mongo_db: str = "chat"
    mongo_timeout_ms: int = 2000
    redis_url: str | None = None
    # Pub/sub channel and key prefix of this deployment on Redis; None derives one.
    redis_channel: str | None = None
    # A process's presence entries stop counting this long after its last heartbeat.
    presence_ttl_seconds: int = 15
    # After a Redis timeout, Redis is left alone this long (doubling up to 30 s).
    redis_backoff_seconds: float = 5.0
    jwt_secret: str | None = None
    dev: bool | None = None
    seed_demo: bool = True
    max_message_length: int = 5000
    edit_window_seconds: int = 900
    rate_limit: int = 20
    rate_window_seconds: int = 60
    chat_create_rate_limit: int = 60
    max_upload_bytes: int = 10 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    typing_throttle_ms: int = 2000
    typing_expires_ms: int = 5000
    event_retention_seconds: int = 7 * 24 * 3600
    notification_retention_seconds: int = 90 * 24 * 3600
    token_ttl_seconds: int = 7 * 24 * 3600
    cors_origins: tuple[str, ...] = ()
    # How long a client may take to send a request's headers, and to send the next part
    # of its body; slower clients get 408 (or, mid-headers, a closed connection).
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 20
    validate_responses: bool = False
    log_level: str = "info"
    mime_types: tuple[str, ...] = field(default=ALLOWED_MIME_TYPES)
    # the embedded store: mongomock answering from the declared indexes, or plain mongomock;
    # read from the environment even here, so that one variable moves a whole test run
    store_engine: str = field(default_factory=lambda: _engine(os.environ))
    # run store work in worker threads even on the embedded store, as with MongoDB
    store_threads: bool = False
    # With MongoDB, sandbox <name> lives in database <prefix><name>; None derives
    # `<MONGODB_DB>-sandbox-`.
    sandbox_db_prefix: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        origins = tuple(o.strip() for o in env.get("CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            mongo_uri=env.get("MONGODB_URI") or None,
            mongo_db=env.get("MONGODB_DB", "chat"),
            mongo_timeout_ms=_int(env, "MONGO_TIMEOUT_MS", 2000),
            redis_url=env.get("REDIS_URL") or None,
            redis_channel=env.get("REDIS_CHANNEL") or None,
            presence_ttl_seconds=_int(env, "PRESENCE_TTL_SECONDS", 15),
            jwt_secret=env.get("JWT_SECRET") or None,
            dev=True if _flag(env, "CHAT_DEV") else None,
            max_message_length=_int(env, "CHAT_MAX_MESSAGE_LENGTH", 5000),
            edit_window_seconds=_int(env, "CHAT_EDIT_WINDOW_SECONDS", 900),
            rate_limit=_int(env, "CHAT_RATE_LIMIT", 20),
            rate_window_seconds=_int(env, "CHAT_RATE_WINDOW_SECONDS", 60),
            chat_create_rate_limit=_int(env, "CHAT_CREATE_RATE_LIMIT", 60),
            max_upload_bytes=_int(env, "CHAT_MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
            cors_origins=origins,
            header_timeout_seconds=_int(env, "HTTP_HEADER_TIMEOUT_SECONDS", 10),
            body_timeout_seconds=_int(env, "HTTP_BODY_TIMEOUT_SECONDS", 20),
            log_level=env.get("LOG_LEVEL", "info").lower(),
            store_engine=_engine(env),
            store_threads=_flag(env, "CHAT_STORE_THREADS"),
            sandbox_db_prefix=env.get("CHAT_SANDBOX_DB_PREFIX") or None,
        )

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
