"""Injected faults (`/api/dev/faults`): the next calls of an operation stall or fail with
the contract's problem document, in the caller's sandbox only, and do nothing."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_sandboxes import in_sandbox, sandbox_user

from conftest import Api, assert_problem
from polling import until


async def fault(api: Api, sandbox: str, **body: object) -> dict[str, object]:
    r = await api.client.post("/api/dev/faults", json=body, headers=in_sandbox(sandbox))
    assert r.status_code == 201, r.text
    created: dict[str, object] = r.json()["data"]["fault"]
    return created


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "RATE_LIMITED"),
        (500, "INTERNAL_ERROR"),
        (502, "BAD_GATEWAY"),
        (503, "STORE_UNAVAILABLE"),
        (504, "GATEWAY_TIMEOUT"),
    ],
)
async def test_status_is_answered_with_the_contract_code(api: Api, status: int, code: str) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    await fault(api, "w1", operationId="send_message", status=status)
    r = await a.send(chat_id, "lost")
    assert_problem(r, status, code)
    if status in (429, 503):
        assert int(r.headers["Retry-After"]) >= 1
    if status == 429:
        assert r.headers["X-RateLimit-Remaining"] == "0"
        assert r.json()["retryAfter"] >= 1


async def test_faulted_operation_did_nothing(api: Api) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    await fault(api, "w1", operationId="send_message", status=500, times=2)
    for _ in range(2):
        assert_problem(await a.send(chat_id, "lost"), 500, "INTERNAL_ERROR")
    messages = (await b.get(f"/api/chat/{chat_id}/messages")).json()["data"]["messages"]
    assert messages == []
    events = (await b.get(f"/api/chat/{chat_id}/events")).json()["data"]
    assert events["latestSeq"] == 0
    assert (await a.chat(chat_id))["unreadCounts"][b.id] == 0
    await a.sent(chat_id, "third time")


async def test_left_out_times_and_delay_mean_one_call_at_once(api: Api) -> None:
    a = await sandbox_user(api, "w1")
    created = await fault(api, "w1", operationId="list_chats", status=503)
    assert created == {"operationId": "list_chats", "status": 503, "delayMs": 0, "times": 1}
    assert_problem(await a.get("/api/chat"), 503, "STORE_UNAVAILABLE")
    assert (await a.get("/api/chat")).status_code == 200


async def test_times_counts_down_and_the_list_shows_what_is_left(api: Api) -> None:
    a = await sandbox_user(api, "w1")
    await fault(api, "w1", operationId="list_chats", status=503, times=3)
    await a.get("/api/chat")
    r = await api.client.get("/api/dev/faults", headers=in_sandbox("w1"))
    assert r.json()["data"]["faults"] == [
        {"operationId": "list_chats", "status": 503, "delayMs": 0, "times": 2}
    ]
    await a.get("/api/chat")
    await a.get("/api/chat")
    assert (await a.get("/api/chat")).status_code == 200
    r = await api.client.get("/api/dev/faults", headers=in_sandbox("w1"))
    assert r.json()["data"]["faults"] == []


async def test_a_fault_stays_in_its_sandbox(api: Api) -> None:
    await fault(api, "w1", operationId="list_chats", status=500)
    other = await sandbox_user(api, "w2")
    plain = await api.user()
    assert (await other.get("/api/chat")).status_code == 200
    assert (await plain.get("/api/chat")).status_code == 200
    mine = await sandbox_user(api, "w1")
    assert_problem(await mine.get("/api/chat"), 500, "INTERNAL_ERROR")


async def test_delay_only_runs_the_operation_after_the_delay(api: Api) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    await fault(api, "w1", operationId="send_message", delayMs=300)
    started = time.monotonic()
    r = await a.send(chat_id, "slow")
    assert r.status_code == 201
    assert time.monotonic() - started >= 0.3


async def test_a_stalled_call_does_not_hold_up_others(api: Api) -> None:
    a = await sandbox_user(api, "w1")
    await fault(api, "w1", operationId="list_chats", delayMs=2000, status=504)
    stalled = asyncio.create_task(a.get("/api/chat"))
    config = await a.get("/api/chat/config")
    assert config.status_code == 200 and not stalled.done()
    assert_problem(await stalled, 504, "GATEWAY_TIMEOUT")


async def test_clearing_forgets_pending_faults(api: Api) -> None:
    a = await sandbox_user(api, "w1")
    await fault(api, "w1", operationId="list_chats", status=500, times=5)
    r = await api.client.delete("/api/dev/faults", headers=in_sandbox("w1"))
    assert r.json()["data"] == {"cleared": 1}
    assert (await a.get("/api/chat")).status_code == 200


async def test_reset_clears_faults(api: Api) -> None:
    await fault(api, "w1", operationId="list_chats", status=500)
    reset = await api.client.post("/api/dev/reset", headers=in_sandbox("w1"))
    assert reset.status_code == 200, reset.text
    r = await api.client.get("/api/dev/faults", headers=in_sandbox("w1"))
    assert r.json()["data"]["faults"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"operationId": "no_such_operation", "status": 500},
        {"operationId": "create_dev_fault", "status": 500},
        {"operationId": "send_message", "status": 418},
        {"operationId": "send_message", "status": 500, "times": -1},
        {"operationId": "send_message", "status": 500, "times": 0},
        {"operationId": "send_message", "delayMs": -5},
        {"operationId": "send_message"},
        {"operationId": "send_message", "delayMs": 0},
        {"status": 500},
        {"operationId": "send_message", "status": 500, "extra": 1},
    ],
)
async def test_bad_fault_is_400(api: Api, body: dict[str, object]) -> None:
    r = await api.client.post("/api/dev/faults", json=body, headers=in_sandbox("w1"))
    assert_problem(r, 400, "VALIDATION_FAILED")
    r = await api.client.get("/api/dev/faults", headers=in_sandbox("w1"))
    assert r.json()["data"]["faults"] == []


async def test_a_request_that_fails_authentication_uses_no_fault(api: Api) -> None:
    a = await sandbox_user(api, "w1")
    await fault(api, "w1", operationId="list_chats", status=503)
    gone = await sandbox_user(api, "w1", "gone")
    await api.client.patch(
        f"/api/dev/users/{gone.id}", json={"status": "banned"}, headers=in_sandbox("w1")
    )
    assert_problem(await gone.get("/api/chat"), 401, "UNAUTHORIZED")
    anonymous = await api.client.get("/api/chat")
    assert_problem(anonymous, 401, "UNAUTHORIZED")
    assert_problem(await a.get("/api/chat"), 503, "STORE_UNAVAILABLE")
    assert (await a.get("/api/chat")).status_code == 200


async def test_a_request_in_flight_when_its_sandbox_is_removed_stores_nothing(api: Api) -> None:
    a, b = await sandbox_user(api, "w1", "a"), await sandbox_user(api, "w1", "b")
    chat_id = await a.direct_chat(b)
    await fault(api, "w1", operationId="send_message", delayMs=1500)
    sending = asyncio.create_task(a.send(chat_id, "after the end"))

    async def fault_taken() -> bool:  # the send has taken its fault and waits in it
        r = await api.client.get("/api/dev/faults", headers=in_sandbox("w1"))
        return not r.json()["data"]["faults"]

    await until(fault_taken)
    assert (await api.client.delete("/api/dev/sandboxes/w1")).status_code == 200
    r = await sending
    assert_problem(r, 401, "UNAUTHORIZED", detail="sandbox of this request was removed")
    listed = (await api.client.get("/api/dev/sandboxes")).json()["data"]["sandboxes"]
    assert [s["name"] for s in listed] == ["default"]
