"""The contract-testing kit under hostile use, as a property: whatever shapes of request
hit the dev endpoints and the API (any method, path, sandbox header, query and body;
faults, clock moves, provider states and HAR exports included), every answer is a
success envelope (a HAR document for the export) or the contract's problem document,
never an error nobody injected; and the server stays within its caps: sandboxes,
pending faults, journal bytes, and so resident memory.

One launched server with small caps takes `BUDGET.hostile_batches` generated batches of
requests (their state carries over, as it would for a real client); its memory is read
from /proc before and after.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fuzzkit import BUDGET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.devkit.provider_states import STATES
from impl.launcher import Launched

MAX_SANDBOXES = 6
MAX_FAULTS = 5
JOURNAL_MIB = 2
# what serving itself keeps (allocator arenas, caches) beyond the caps
SLACK_MIB = 48
SANDBOX_NAMES = [f"w{n}" for n in range(MAX_SANDBOXES * 2)]
CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
DEV_PATHS = [
    "/api/dev/users",
    "/api/dev/users/000000000000000000000b01",
    "/api/dev/clock",
    "/api/dev/reset",
    "/api/dev/sandboxes",
    "/api/dev/sandboxes/w1",
    "/api/dev/faults",
    "/api/dev/requests",
    "/api/dev/sockets/disconnect",
    "/api/dev/requests.har",
    "/api/dev/provider-states",
    "/api/dev/nonexistent",
    "/api/dev",
]
API_PATHS = ["/api/chat", "/api/chat/config", "/api/chat/stats", "/api/notifications"]
OPERATIONS = ["list_chats", "create_chat", "get_chat_config", "send_message", "nope"]
SECRETS = {"password": "hunter2", "apiKey": "k", "session": "s", "jwt": "eyJhbGciOi.x.y"}

printable = st.text(alphabet=string.ascii_letters + string.digits + "-_ !.", max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | printable,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(printable, inner, max_size=6),
    max_leaves=40,
)
raw_bodies = st.sampled_from(
    [
        b'{"advanceSeconds": NaN}',
        b'{"name": Infinity}',
        b"[" * 3000 + b"]" * 3000,
        b'{"password": "hunter2", "name": "cut' + b"x" * 20000,
        b"\xff\xfe not utf-8",
        json.dumps([{}] * 5000).encode(),
        b"",
    ]
)
dev_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "operationId": st.sampled_from(OPERATIONS),
            "status": st.sampled_from([429, 500, 502, 503, 504, 418]),
            "times": st.integers(0, 1000),
        },
        optional={"delayMs": st.integers(0, 20)},
    ),
    st.fixed_dictionaries({"advanceSeconds": st.integers(-5, 315360000 * 2)}),
    st.fixed_dictionaries(
        {"name": printable},
        optional={
            "role": st.sampled_from(["user", "admin", "root"]),
            **{key: st.just(value) for key, value in SECRETS.items()},
        },
    ),
    st.fixed_dictionaries({"participantIds": st.lists(printable, max_size=3)}),
    st.fixed_dictionaries(
        {"state": st.sampled_from(["", *STATES, "a unicorn"])},
        optional={"action": st.sampled_from(["setup", "teardown", "explode"])},
    ),
)


@st.composite
def hostile_request(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(
        st.one_of(
            st.sampled_from(DEV_PATHS + API_PATHS),
            st.builds(lambda p, s: f"{p}/{s}", st.sampled_from(DEV_PATHS), printable),
        )
    )
    headers: dict[str, str] = {}
    sandbox = draw(st.one_of(st.none(), st.sampled_from(SANDBOX_NAMES), printable))
    if sandbox is not None:
        headers["X-Chat-Sandbox"] = sandbox
    if draw(st.booleans()):
        headers["Authorization"] = "Bearer " + draw(st.sampled_from(["TOKEN", "eyJ.x.y", "x"]))
    body = draw(st.one_of(st.none(), dev_bodies, json_values, raw_bodies))
    query = draw(st.dictionaries(printable, printable, max_size=8))
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])),
        "path": path.replace(" ", "%20"),
        "headers": headers,
        "body": body,
        "query": query,
    }


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1)) / 1024


def check_answer(r: httpx.Response, request: dict[str, Any]) -> None:
    kind = r.headers.get("content-type", "")
    where = f"{request['method']} {request['path']} -> {r.status_code}: {r.text[:300]}"
    if r.status_code < 400:
        assert kind.startswith("application/json"), where
        if request["path"] == "/api/dev/requests.har":
            assert r.json()["log"]["version"] == "1.2", where
        else:
            assert r.json()["success"] is True, where
        return
    assert kind.startswith("application/problem+json"), where
    body = r.json()
    assert body["status"] == r.status_code and body["success"] is False, where
    assert CODE.match(body["code"]) and body["detail"] and body["title"], where
    if r.status_code >= 500:
        assert "injected fault" in body["detail"], where


@pytest.fixture(scope="module")
def server() -> Iterator[Launched]:
    caps = {
        "CHAT_MAX_SANDBOXES": str(MAX_SANDBOXES),
        "CHAT_MAX_FAULTS": str(MAX_FAULTS),
        "CHAT_JOURNAL_MAX_BYTES": str(JOURNAL_MIB * 1024 * 1024),
        "LOG_LEVEL": "warning",
    }
    with Launched(settings=caps) as launched:
        yield launched


def test_hostile_requests_get_contract_answers_within_the_caps(server: Launched) -> None:
    client = httpx.Client(base_url=server.url, timeout=30)
    made = client.post("/api/dev/users", json={"name": "holder"}).json()["data"]
    token = made["token"]
    before = rss_mib(server.pid)

    @settings(
        max_examples=BUDGET.hostile_batches,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=st.lists(hostile_request(), min_size=1, max_size=15))
    def drive(batch: list[dict[str, Any]]) -> None:
        for request in batch:
            headers = dict(request["headers"])
            if headers.get("Authorization") == "Bearer TOKEN":
                headers["Authorization"] = f"Bearer {token}"
            body = request["body"]
            content = body if isinstance(body, bytes) else None
            if body is not None and content is None:
                content = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
            elif content is not None:
                headers.setdefault("Content-Type", "application/json")
            r = client.request(
                request["method"],
                request["path"],
                params=request["query"],
                headers=headers,
                content=content,
            )
            check_answer(r, request)

    try:
        drive()
        after = rss_mib(server.pid)
        sandboxes = client.get("/api/dev/sandboxes").json()["data"]["sandboxes"]
        assert len(sandboxes) <= MAX_SANDBOXES + 1
        for sandbox in sandboxes:
            headers = {"X-Chat-Sandbox": sandbox["name"]}
            faults = client.get("/api/dev/faults", headers=headers).json()["data"]["faults"]
            assert len(faults) <= MAX_FAULTS
        assert after - before < JOURNAL_MIB + SLACK_MIB, (before, after)
        assert server.running
    finally:
        client.close()
