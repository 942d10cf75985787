"""What one benchmark run measures: sizes, durations, and the constants of the fixtures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RATE_LIMIT = 1_000_000
OUR_ENV = {"CHAT_RATE_LIMIT": str(RATE_LIMIT), "LOG_LEVEL": "warning"}
# the allowance rows: a limit a team raises for fast suites, with thousands of stamps in it
ALLOWANCE_LIMIT = 5_000
ALLOWANCE_ENV = {**OUR_ENV, "CHAT_RATE_LIMIT": str(ALLOWANCE_LIMIT)}
PLAIN_ENV = {**OUR_ENV, "CHAT_STORE_ENGINE": "plain"}  # mongomock without the engine layer
REF_CHAT_ID = "5f0c0ffee0c0ffee0c0ffee0"
SEND_BODY = '{"content": "benchmark message"}'
MARK_ALL_BODY = '{"messageIds": []}'
MARK_ONE_ANSWER = '"modifiedCount": 1}'  # as the server spells it; not 10, 11...
INVALID_BODY = '{"text": "the required content member is missing"}'
REF_TOKEN = "Bearer reference-token"
PROBE_404 = "/bench-idle-probe"  # unknown path: routed, answered 404, touches no store
SERVER_CORE, LOAD_CORE = 0, 1
FANOUT_RETRY_WAIT_S = 180


@dataclass(frozen=True)
class Plan:
    """Sizes and durations of one run."""

    quick: bool
    reps: int
    duration_s: float
    connections: int
    history_sizes: tuple[int, ...]  # the first and the last are the flatness goal's pair
    plain_sizes: tuple[int, ...]  # the same history page on plain mongomock, for the record
    markread_sizes: tuple[int, ...]  # mark-read rows, on the history servers of these sizes
    earlier_posts: int  # the POST-after-traffic row's store holds this many posts first
    window_posts: int  # the allowance row's sender posted this many in the window first
    fanout_sizes: tuple[int, ...]
    fanout_messages: int
    fanout_warmup: int
    writers: int
    send_cap: int
    warmup_s: float
    history_duration_s: float = 15
    history_requests: int = 50  # per rep: the p50 of a one-connection row on a busy machine
    plain_requests: int = 20  # the plain rows are slower: fewer requests per rep
    allowance_requests: int = 200  # sends are quick: more of them steady the allowance rows
    reader_chats: int = 50
    history_connections: int = 1
    load_timeout_s: float = 15.0
    plain_slow_size: int = 100_000  # from this size on, a plain page takes seconds:
    plain_slow_requests: int = 3  # so its row is bounded by this many requests per rep


FULL = Plan(
    quick=False,
    reps=5,
    duration_s=3,
    connections=32,
    history_sizes=(1_000, 10_000, 100_000),
    plain_sizes=(1_000, 10_000, 100_000),
    markread_sizes=(1_000, 10_000),
    earlier_posts=10_000,
    window_posts=3_000,
    fanout_sizes=(10, 100, 500),
    fanout_messages=30,
    fanout_warmup=3,
    writers=20,
    send_cap=20_000,
    warmup_s=1,
)
QUICK = Plan(
    quick=True,
    reps=1,
    duration_s=1,
    connections=8,
    history_sizes=(100, 1_000),
    plain_sizes=(100, 1_000),
    markread_sizes=(100, 1_000),
    earlier_posts=400,
    window_posts=300,
    fanout_sizes=(100,),
    fanout_messages=5,
    fanout_warmup=1,
    writers=2,
    send_cap=2_000,
    warmup_s=0,
    history_duration_s=2,
    history_requests=10,
    plain_requests=10,
    allowance_requests=10,
    reader_chats=10,
)
