"""The request path's quick ways give the answers of the slow ones they replace, shown by
properties over the shapes each meets: verified tokens are remembered (and still expire),
the journal keeps a response that holds no secret without walking it, and timestamps are
written without strftime."""

from __future__ import annotations

import json
import string
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import jwt
import mongomock
import pytest
from bson import ObjectId
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mongomock import collection as mm_collection
from mongomock import filtering as mm_filtering
from mongomock import helpers as mm_helpers
from sentinels import NOTHING

from impl.clock import isoformat
from impl.devkit.redaction import (
    SECRET_SPELLINGS,
    SECRET_STEMS,
    _spells_a_secret,
    bounded_json,
    may_hide_secrets,
)
from impl.domain.presenters import jsonable
from impl.errors import Unauthorized
from impl.settings import Settings
from impl.store.engine import _AcceleratedCollection, _copy_out, _inclusion, _settle_id
from impl.store.matching import compiled, is_plain
from impl.tokens import ALGORITHM, VerifiedTokens, claims_of, issue_token

SETTINGS = Settings()


def slow_isoformat(moment: datetime) -> str:
    """What the server wrote before: astimezone and strftime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


zones = st.one_of(
    st.none(),
    st.just(UTC),
    st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30)),
    zones,
)
def test_timestamps_read_as_before(moment: datetime, zone: timezone | None) -> None:
    moment = moment.replace(tzinfo=zone)
    assert isoformat(moment) == slow_isoformat(moment)


def test_a_remembered_token_still_expires() -> None:
    remembered = VerifiedTokens()
    claims = {"sub": "000000000000000000000b01", "iat": 1, "exp": int(time.time()) + 60}
    remembered.put("secret", "token", claims)
    assert remembered.get("secret", "token") is claims
    assert remembered.get("another secret", "token") is None
    claims["exp"] = int(time.time())
    with pytest.raises(Unauthorized, match="expired"):
        remembered.get("secret", "token")


def test_remembered_tokens_are_bounded() -> None:
    remembered = VerifiedTokens(size=3)
    for n in range(10):
        remembered.put("s", f"t{n}", {"exp": int(time.time()) + 60})
    assert [remembered.get("s", f"t{n}") is not None for n in range(10)] == [False] * 7 + [True] * 3


@given(
    kind=st.sampled_from(["good", "expired", "other-secret", "tampered", "no-sub", "garbage"]),
    repeat=st.integers(1, 3),
)
def test_claims_are_judged_alike_the_first_time_and_after(kind: str, repeat: int) -> None:
    now = int(time.time())
    good = {"sub": "000000000000000000000b01", "iat": now, "exp": now + 600}
    token = {
        "good": lambda: issue_token(SETTINGS, "000000000000000000000b01"),
        "expired": lambda: jwt.encode({**good, "exp": now - 1}, SETTINGS.signing_secret, ALGORITHM),
        "other-secret": lambda: jwt.encode(good, "x" * 40, ALGORITHM),
        "tampered": lambda: issue_token(SETTINGS, "000000000000000000000b01")[:-3] + "AAA",
        "no-sub": lambda: jwt.encode(
            {"iat": now, "exp": now + 600}, SETTINGS.signing_secret, ALGORITHM
        ),
        "garbage": lambda: "not.a.token",
    }[kind]()
    outcomes = []
    for _ in range(repeat):
        try:
            outcomes.append(claims_of(SETTINGS, token)["sub"])
        except Unauthorized as refused:
            outcomes.append(refused.detail)
    assert len(set(outcomes)) == 1
    assert (outcomes[0] == "000000000000000000000b01") == (kind == "good")


KEYS = st.sampled_from(
    ["_id", "chatId", "content", "title", "metadata", "Pass-Word", "api_KEY", "note", "x"]
)
TEXTS = st.one_of(
    st.text(alphabet=string.ascii_letters + ' éü€😀\\"\n', max_size=30),
    st.sampled_from(["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "token", "sess-ion", "\\u0070"]),
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXTS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS | TEXTS, inner, max_size=5),
    max_leaves=60,
)


@given(
    body=VALUES,
    limit=st.integers(16, 2000),
    token=st.sampled_from([None, "tok", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"]),
    indent=st.sampled_from([None, 1]),
    ascii_only=st.booleans(),
)
def test_a_response_kept_the_quick_way_is_what_redaction_keeps(
    body: object, limit: int, token: str | None, indent: int | None, ascii_only: bool
) -> None:
    raw = json.dumps({"success": True, "data": body}, indent=indent, ensure_ascii=ascii_only)
    encoded = raw.encode()
    assert bounded_json(encoded, limit, token, ours=True) == bounded_json(encoded, limit, token)


def test_the_quick_way_is_taken_only_without_a_secret_in_sight() -> None:
    assert not may_hide_secrets(b'{"success":true,"data":{"chats":[{"_id":"65f0"}]}}')
    for hiding in (
        b'{"PASS_word": 1}',
        b'{"a": "eyJhbGciOi"}',
        b'{"p\\u0061ssword": 1}',
        b'{"c-o-o-k-i-e": 1}',
        b'{"a": "my own token"}',
    ):
        assert may_hide_secrets(hiding, token="own"), hiding
    assert may_hide_secrets(b'{"a": "the own token"}', token="own")


# bytes near the stems: their letters in both cases, the separators, and a few others
spelling_bytes = st.lists(
    st.one_of(
        st.sampled_from(sorted(set("".join(SECRET_STEMS) + "".join(SECRET_STEMS).upper()))),
        st.sampled_from(["-", "_", "-_", " ", '"', "x", "\u00e9", "\u0130", "\u212a"]),
        st.sampled_from(SECRET_STEMS).map(lambda stem: "_".join(stem)),
    ),
    max_size=40,
).map(lambda parts: "".join(parts).encode())


@given(st.one_of(spelling_bytes, st.binary(max_size=64)))
def test_a_secret_is_spelt_the_quick_way_exactly_when_the_pattern_finds_one(raw: bytes) -> None:
    assert _spells_a_secret(raw) == (SECRET_SPELLINGS.search(raw) is not None)


def slow_jsonable(value: object) -> object:
    """What the presenters did before: one isinstance chain for every value."""
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return isoformat(value)  # itself shown above to write what strftime wrote
    if isinstance(value, dict):
        return {k: slow_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [slow_jsonable(v) for v in value]
    return value


class Tagged(str):
    """A str subclass: the quick ways must not take it for a plain str."""


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.text(max_size=5).map(Tagged),
    st.binary(max_size=4),
    st.binary(min_size=12, max_size=12).map(ObjectId),
    st.datetimes(timezones=zones),
)
documents = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(OrderedDict),
    ),
    max_leaves=12,
)


@given(documents)
def test_the_presenters_turn_values_into_json_as_before(value: object) -> None:
    assert jsonable(value) == slow_jsonable(value)


@given(st.dictionaries(st.text(max_size=3), documents, max_size=4), st.booleans())
def test_a_document_is_copied_out_as_mongomock_copies_it(
    doc: dict[str, object], aware: bool
) -> None:
    doc = OrderedDict(doc)  # as mongomock stores it
    expected = mm_collection._copy_field(doc, dict)
    if aware:
        expected = mm_helpers.make_datetime_timezone_aware_in_document(expected)
    copied = _copy_out(doc, aware)
    assert copied == expected
    assert repr(copied) == repr(expected)  # the same types and tzinfo, not only equal
    assert all(copied[key] is not doc[key] for key in doc if isinstance(doc[key], dict | list))


# values the two filter shapes meet, and a few they must not be fooled by
OID = ObjectId("65f000000000000000000001")
filter_values = st.one_of(
    st.sampled_from([OID, ObjectId("65f000000000000000000002"), str(OID), "a", "", None]),
    st.sampled_from([0, 1, 1.0, True, False, float("nan"), datetime(2026, 1, 1)]),
    st.lists(st.sampled_from([OID, str(OID), 1, None]), max_size=2),
)
stored_values = st.recursive(
    filter_values,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=2).map(tuple),
        st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2),
    ),
    max_leaves=6,
)
field_names = st.sampled_from(["a", "b", "c"])
conditions = st.one_of(
    filter_values,
    filter_values.map(lambda value: {"$ne": value}),
)
# shapes the quick way leaves to mongomock
other_filters = st.sampled_from(
    [{"a": {"$in": [OID]}}, {"a": {}}, {"a.b": OID}, {"$or": [{"a": 1}]}, {"": 1}]
)


def outcome(test: Callable[[], object]) -> object:
    try:
        return bool(test())
    except Exception as exc:  # the same failure counts as the same answer
        return type(exc)


def holding(value: object) -> st.SearchStrategy[object]:
    """Stored values that hold `value`: itself, in lists and tuples, nested, as text."""
    return st.one_of(
        st.just(value),
        st.just([value]),
        filter_values.map(lambda other: [other, value]),
        filter_values.map(lambda other: (value, other)),
        st.just([[value]]),
        st.just(str(value)),
    )


@st.composite
def filters_and_documents(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A filter and a document whose fields mostly hold what the filter looks for."""
    spec = draw(st.dictionaries(field_names, conditions, min_size=1, max_size=3) | other_filters)
    doc: dict[str, Any] = {}
    for key, condition in spec.items():
        searched = condition.get("$ne") if isinstance(condition, dict) else condition
        kept = draw(st.one_of(holding(searched), stored_values, st.just(NOTHING)))
        if kept is not NOTHING:
            doc[key] = kept
    doc.update(draw(st.dictionaries(field_names, stored_values, max_size=1)))
    return spec, doc


@settings(max_examples=400)
@given(filters_and_documents())
# mongomock's own rules for the two shapes, each once for certain
@example(({"a": None}, {}))  # null matches a missing field
@example(({"a": {"$ne": OID}}, {"a": [OID]}))  # $ne holds for every item of a list
@example(({"a": OID}, {"a": [str(OID)]}))  # an ObjectId matches its text in a list
@example(({"a": [1]}, {"a": [1]}))  # a list matches an equal list
@example(({"a": 1}, {"a": [[1]]}))  # but not one nested deeper
def test_a_compiled_filter_answers_as_mongomock_does(case: tuple[dict[str, Any], dict[str, Any]]):
    spec, doc = case
    stored = OrderedDict(doc)  # as mongomock stores it
    expected = outcome(lambda: mm_filtering.filter_applies(spec, stored))
    assert outcome(lambda: compiled(spec)(stored)) == expected
    if is_plain(spec):  # accepted without a trial run: it fails on no document
        assert outcome(lambda: mm_filtering.filter_applies(spec, {})) in (True, False)


MOCK_COLLECTION = mongomock.MongoClient().db.speed_paths
projections = st.dictionaries(
    st.sampled_from(["_id", "a", "b", "c", "a.b", "$x"]),
    st.sampled_from([1, 0, True, False, 2]),
    max_size=3,
)


@given(
    st.dictionaries(st.sampled_from(["_id", "a", "b", "d"]), documents, max_size=4),
    projections,
    st.booleans(),
)
@example({"_id": OrderedDict(), "a": 1}, {"a": 1}, False)  # `_id` as stored, not copied
@example({"b": 1, "_id": 2, "a": (1,)}, {"_id": 1, "a": True}, True)  # a tuple: mongomock's way
def test_a_projected_document_is_copied_out_as_mongomock_copies_it(
    doc: dict[str, object], projection: dict[str, object], aware: bool
) -> None:
    stored = OrderedDict(doc)
    included = _inclusion(projection)
    if included is None:  # left to mongomock
        return
    theirs = dict(projection)
    expected = MOCK_COLLECTION._copy_only_fields(stored, theirs, dict)
    if aware:
        expected = mm_helpers.make_datetime_timezone_aware_in_document(expected)
    # the engine's step, falling back to mongomock's own way for unusual values
    copied = _AcceleratedCollection._projected(
        MOCK_COLLECTION, stored, dict(projection), included, aware
    )
    assert repr(copied) == repr(expected)  # the same fields, order, types and tzinfo
    ours = dict(projection)
    _settle_id(ours)
    assert list(ours.items()) == list(theirs.items())  # the caller's projection as left


def test_projections_the_quick_way_leaves_to_mongomock() -> None:
    for projection in ({}, {"_id": 1}, {"_id": 0}, {"a": 0}, {"a.b": 1}, {"a": 2}, {"a": "1"}):
        assert _inclusion(projection) is None, projection
    assert _inclusion({"a": True, "_id": False}) == (frozenset({"a"}), False)
