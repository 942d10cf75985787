"""Limits that are settings are enforced as configured, not as their defaults: the
`metadata` size and depth, and the multipart allowance over the file limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from conftest import Api, User, assert_problem
from impl.settings import Settings

FILE_LIMIT = 1000
ALLOWANCE = 300


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(
        validate_responses=True,
        metadata_max_bytes=64,
        metadata_max_depth=2,
        max_upload_bytes=FILE_LIMIT,
        multipart_allowance_bytes=ALLOWANCE,
    )


async def chat_of(api: Api) -> tuple[User, str]:
    a, b = await api.user("a"), await api.user("b")
    return a, await a.direct_chat(b)


async def send(user: User, chat_id: str, metadata: object):  # type: ignore[no-untyped-def]
    body = {"content": "x", "metadata": metadata}
    return await user.post(f"/api/chat/{chat_id}/messages", json=body)


async def test_metadata_depth_is_the_configured_one(api: Api) -> None:
    a, chat_id = await chat_of(api)
    assert (await send(a, chat_id, {"k": {"v": 1}})).status_code == 201
    r = await send(a, chat_id, {"k": {"v": {"w": 1}}})
    assert "nested deeper than 2 levels" in assert_problem(r, 400, "VALIDATION_FAILED")["detail"]


async def test_metadata_size_is_the_configured_one(api: Api) -> None:
    a, chat_id = await chat_of(api)
    overhead = len(json.dumps({"v": ""}, separators=(",", ":")))
    assert (await send(a, chat_id, {"v": "x" * (64 - overhead)})).status_code == 201
    r = await send(a, chat_id, {"v": "x" * (64 - overhead + 1)})
    assert "the limit is 64" in assert_problem(r, 400, "VALIDATION_FAILED")["detail"]


async def test_an_upload_over_limit_plus_allowance_is_refused_before_reading(api: Api) -> None:
    a, chat_id = await chat_of(api)
    declared = FILE_LIMIT + ALLOWANCE + 1
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        read += 1
        yield b"x" * declared

    r = await a.post(
        f"/api/chat/{chat_id}/messages/file",
        content=body(),
        headers={
            "Content-Type": "multipart/form-data; boundary=xyz",
            "Content-Length": str(declared),
        },
    )
    assert assert_problem(r, 413, "FILE_TOO_LARGE")["maxBytes"] == FILE_LIMIT
    assert read <= 1


async def test_the_envelope_of_a_file_at_the_limit_fits_the_allowance(api: Api) -> None:
    a, chat_id = await chat_of(api)
    r = await a.post(
        f"/api/chat/{chat_id}/messages/file",
        files={"file": ("a.txt", b"y" * FILE_LIMIT, "text/plain")},
    )
    # the whole request is the file plus its multipart envelope: over the file limit
    assert int(r.request.headers["content-length"]) > FILE_LIMIT
    assert r.status_code == 201, r.text
