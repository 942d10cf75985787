"""The per-user allowances of `impl.domain.rate_limits`, called as the domain calls them:
what one reservation costs does not grow with the stamps in the window; reservations,
give-backs, clock moves and changed limits agree with a plain list-of-stamps model;
racing threads never admit more than the limit nor lose a give-back; a compare-and-set
lost to another request is tried again, a bounded number of times.

The app's clock is a hand-moved source (time stands still unless a test moves it), and
every test works with users of its own, so one app serves the module.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.app import ChatApp, create_app
from impl.clock import Clock
from impl.domain import rate_limits
from impl.domain.rate_limits import CHATS, MESSAGES, Allowance
from impl.domain.services import Caller
from impl.errors import RateLimited, StoreUnavailable
from impl.settings import Settings
from impl.store import Index

T = TypeVar("T")
WINDOW = 60
START = datetime(2030, 1, 1, tzinfo=UTC)


class HandMoved:
    """A source of time that moves only when told."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Interference:
    """A query observer that, when armed, changes a user's allowance document just before
    the allowance's compare-and-set reaches the store: another request getting there
    first. `times` is how many of the next compare-and-sets lose (None: all of them)."""

    def __init__(self) -> None:
        self.app: ChatApp | None = None
        self.times: int | None = 0
        self.calls: list[str] = []

    def __call__(self, collection: str, op: str, index: Index, query: Mapping[str, Any]) -> None:
        if collection != "ratelimits":
            return
        self.calls.append(op)
        if op == "update_one" and (self.times is None or self.times > 0):
            self.times = None if self.times is None else self.times - 1
            assert self.app is not None
            self.app.services.store.db["ratelimits"].update_one(
                {"_id": query["_id"]}, {"$inc": {"v": 1}}
            )

    def arm(self, times: int | None) -> None:
        self.times, self.calls = times, []


@pytest.fixture(scope="module")
def time() -> HandMoved:
    return HandMoved()


@pytest.fixture(scope="module")
def interference() -> Interference:
    return Interference()


@pytest.fixture(scope="module")
def app(time: HandMoved, interference: Interference) -> Iterator[ChatApp]:
    built = create_app(Settings(), query_observer=interference, clock=Clock(time))
    interference.app = built
    yield built
    built.close()


@pytest.fixture(autouse=True)
def quiet(interference: Interference) -> None:
    interference.arm(0)


def user(app: ChatApp, user_id: ObjectId | None = None, **limits: int) -> Caller:
    """A caller (a new user unless `user_id` is given) under the app's settings with
    `limits` changed, as after a restart with other settings."""
    services = replace(app.services, settings=app.services.settings.with_overrides(**limits))
    return Caller(services, user={"_id": user_id or ObjectId()})


def used(caller: Caller, kind: str = MESSAGES) -> int:
    left = rate_limits.peek(caller, kind)
    return left.limit - left.remaining


# ---- the cost of a reservation ------------------------------------------------------------


def peak_bytes(action: Callable[[], T]) -> int:
    """The most memory `action` held at once beyond what was allocated before it."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_reservation_after_3000_in_the_window_allocates_bytes_per_stamp_not_objects(
    app: ChatApp,
) -> None:
    """With CHAT_RATE_LIMIT raised a user's window holds thousands of stamps. Reserving
    may copy their packed form, 8 bytes a stamp (the new value and mongomock's BSON check
    of it make three copies; four are allowed), but must make no object per stamp: that
    is what made a send's cost grow with the limit (mongomock deep-copies a document
    element by element on every read and update)."""
    stamps, limit = 3_000, 5_000
    busy, fresh = user(app, rate_limit=limit), user(app, rate_limit=limit)
    for _ in range(stamps):
        rate_limits.reserve(busy)
    rate_limits.reserve(fresh)  # both now update a stored document
    baseline = peak_bytes(lambda: rate_limits.reserve(fresh))
    loaded = peak_bytes(lambda: rate_limits.reserve(busy))
    per_stamp = (loaded - baseline) / stamps
    assert per_stamp <= 32, (
        f"one reservation with {stamps:,} stamps in the window held {loaded:,} bytes at its "
        f"peak, a fresh user's {baseline:,}: {per_stamp:.0f} bytes more per stamp (at most 32)"
    )


# ---- agreement with a model -----------------------------------------------------------------


class Model:
    """The contract in its plainest form: every accepted action's time (ms), kept forever;
    an action is accepted when fewer than the limit lie inside the window ending now."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.stamps: dict[str, list[int]] = {MESSAGES: [], CHATS: []}

    def recent(self, kind: str, now: int) -> list[int]:
        return [s for s in self.stamps[kind] if s > now - self.window_ms]

    def left(self, kind: str, limit: int, now: int) -> tuple[int, int, int]:
        recent = self.recent(kind, now)
        reset = -(-(min(recent) + self.window_ms - now) // 1000) if recent else 0
        return limit, max(limit - len(recent), 0), max(reset, 0)

    def reserve(self, kind: str, limit: int, now: int) -> bool:
        if len(self.recent(kind, now)) >= limit:
            return False
        self.stamps[kind].append(now)
        return True

    def release(self, kind: str, stamp: int) -> None:
        self.stamps[kind].remove(stamp)


def shown(left: Allowance) -> tuple[int, int, int]:
    return left.limit, left.remaining, left.reset_seconds


def millis(moment: datetime) -> int:
    return (moment - START) // timedelta(milliseconds=1)


PROFILE = os.environ.get("FUZZ_PROFILE", "ci")
EXAMPLES = {"ci": 150, "long": 2_000}[PROFILE]
kinds = st.sampled_from([MESSAGES, MESSAGES, CHATS])
step = st.one_of(
    st.tuples(st.just("reserve"), kinds),
    st.tuples(st.just("release"), kinds, st.integers(0, 30)),
    st.tuples(st.just("peek"), kinds),
    st.tuples(
        st.just("advance"),
        st.one_of(
            st.sampled_from([0, 1, 999, 1_000, 30_000, 59_999, 60_000, 60_001, 120_000]),
            st.integers(0, 70_000),
        ),
    ),
    st.tuples(st.just("limits"), st.integers(1, 6), st.integers(1, 6)),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    window=st.sampled_from([1, 2, WINDOW]),
    limits=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    steps=st.lists(step, max_size=60),
)
def test_the_allowance_agrees_with_a_list_of_stamps(
    app: ChatApp,
    time: HandMoved,
    window: int,
    limits: tuple[int, int],
    steps: list[tuple[Any, ...]],
) -> None:
    """Window and limits are settings: a changed limit is a restart with another value. The
    window stays one per example (stamps already out of a shorter window are forgotten)."""
    user_id, model = ObjectId(), Model(window * 1_000)
    held: dict[str, list[Allowance]] = {MESSAGES: [], CHATS: []}

    def caller() -> Caller:
        return user(
            app,
            user_id,
            rate_limit=limits[0],
            chat_create_rate_limit=limits[1],
            rate_window_seconds=window,
        )

    def limit(kind: str) -> int:
        return limits[0] if kind == MESSAGES else limits[1]

    for name, *args in steps:
        now = millis(time.now)
        if name == "advance":
            time.advance(milliseconds=args[0])
        elif name == "limits":
            limits = (args[0], args[1])
        elif name == "peek":
            (kind,) = args
            assert shown(rate_limits.peek(caller(), kind)) == model.left(kind, limit(kind), now)
        elif name == "release":
            kind, index = args
            if held[kind]:
                taken = held[kind].pop(index % len(held[kind]))
                assert taken.stamp is not None
                rate_limits.release(caller(), taken)
                model.release(kind, millis(taken.stamp))
        else:
            (kind,) = args
            try:
                taken = rate_limits.reserve(caller(), kind)
            except RateLimited as refused:
                assert not model.reserve(kind, limit(kind), now)
                _, remaining, reset = model.left(kind, limit(kind), now)
                assert refused.allowance is not None
                assert refused.allowance.remaining == 0 == remaining
                assert refused.retry_after == max(reset, 1)
            else:
                assert model.reserve(kind, limit(kind), now)
                assert taken.stamp == time.now
                assert shown(taken) == model.left(kind, limit(kind), now)
                held[kind].append(taken)


def test_giving_back_one_of_several_stamps_of_one_millisecond_gives_back_only_it(
    app: ChatApp,
) -> None:
    caller = user(app)
    taken = [rate_limits.reserve(caller) for _ in range(3)]  # time stands still
    rate_limits.release(caller, taken[0])
    assert used(caller) == 2


def test_a_stored_array_of_stamps_counts_and_is_rewritten_packed(
    app: ChatApp, time: HandMoved
) -> None:
    """A document written before the stamps were packed (an array of datetimes)."""
    caller = user(app, rate_limit=3)
    key = f"{MESSAGES}:{caller.id}"
    earlier = [time.now - timedelta(seconds=s) for s in (50, 20, 10)]
    app.services.store.db["ratelimits"].insert_one({"_id": key, "stamps": earlier})
    with pytest.raises(RateLimited):
        rate_limits.reserve(caller)
    time.advance(seconds=10)  # the stamp of 50 s ago leaves the window
    assert rate_limits.reserve(caller).remaining == 0
    stored = app.services.store.db["ratelimits"].find_one({"_id": key})
    assert stored is not None and "stamps" not in stored and len(stored["w"]) == 3 * 8


# ---- races -------------------------------------------------------------------------------
# On the indexed engine whatever CHAT_STORE_ENGINE says: plain mongomock takes no lock, so a
# single-document update there is not atomic across threads (MongoDB's and the engine's
# are), and no compare-and-set can be proven on it.


@pytest.fixture(scope="module")
def racing_app(time: HandMoved) -> Iterator[ChatApp]:
    built = create_app(Settings(store_engine="indexed"), clock=Clock(time))
    yield built
    built.close()


def race(jobs: list[Callable[[], T]]) -> list[T | Exception]:
    """Run every job in a thread of its own, all released at once, switching threads as
    often as the interpreter allows; each job's result or exception, in order."""
    gate = threading.Barrier(len(jobs))
    results: list[T | Exception] = [RuntimeError("did not run")] * len(jobs)

    def run(n: int) -> None:
        gate.wait()
        try:
            results[n] = jobs[n]()
        except Exception as exc:  # the outcome under test
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    return results


# a round does not always interleave: several make a lost race near certain
in_rounds = pytest.mark.parametrize("round_", range(5))


@in_rounds
def test_forty_racing_reservations_admit_exactly_the_limit(
    racing_app: ChatApp, round_: int
) -> None:
    caller = user(racing_app)
    outcomes = race([partial(rate_limits.reserve, caller)] * 40)
    assert sum(isinstance(o, Allowance) for o in outcomes) == 20, outcomes
    assert sum(isinstance(o, RateLimited) for o in outcomes) == 20, outcomes
    assert used(user(racing_app, caller.id, rate_limit=100)) == 20


@in_rounds
def test_racing_give_backs_and_reservations_count_once_each(
    racing_app: ChatApp, round_: int
) -> None:
    """Thirty reservations of one millisecond given back while twenty more are taken: each
    give-back removes exactly one stamp, and no reservation is lost."""
    caller = user(racing_app, rate_limit=100)
    taken = [rate_limits.reserve(caller) for _ in range(30)]
    gives: list[Callable[[], object]] = [partial(rate_limits.release, caller, a) for a in taken]
    takes: list[Callable[[], object]] = [partial(rate_limits.reserve, caller)] * 20
    outcomes = race(gives + takes)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert used(caller) == 20


# ---- lost compare-and-sets -------------------------------------------------------------------


def test_a_lost_compare_and_set_is_read_again_and_tried_again(
    app: ChatApp, interference: Interference
) -> None:
    caller = user(app)
    rate_limits.reserve(caller)
    interference.arm(times=1)
    assert rate_limits.reserve(caller).remaining == 18
    assert interference.calls == ["find_one", "update_one", "find_one", "update_one"]
    assert used(caller) == 2


def test_a_compare_and_set_that_always_loses_gives_up_after_a_bounded_number_of_tries(
    app: ChatApp, interference: Interference, caplog: pytest.LogCaptureFixture
) -> None:
    """A reservation answers 503 (it took nothing); a give-back, which runs while an error
    is on its way to the client, logs and lets that error through."""
    caller = user(app)
    taken = rate_limits.reserve(caller)
    interference.arm(times=None)
    with pytest.raises(StoreUnavailable) as refused:
        rate_limits.reserve(caller)
    assert refused.value.retry_after == 1
    with caplog.at_level(logging.WARNING, "impl.domain.rate_limits"):
        rate_limits.release(caller, taken)
    assert "not given back" in caplog.text
    assert interference.calls.count("update_one") == 2 * rate_limits.SWAP_ATTEMPTS
    interference.arm(0)
    assert used(caller) == 1


def test_reset_seconds_round_up_to_the_oldest_stamp_leaving(app: ChatApp, time: HandMoved) -> None:
    caller = user(app, rate_limit=2)
    rate_limits.reserve(caller)
    time.advance(seconds=10, milliseconds=500)
    left = rate_limits.reserve(caller)
    assert (left.remaining, left.reset_seconds) == (0, math.ceil(WINDOW - 10.5))
