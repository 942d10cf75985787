"""What clients may send: body size, metadata shape, and values MongoDB cannot store.
Each known trap of the libraries underneath has a test here; none may answer 500."""

from __future__ import annotations

import json

import pytest

from conftest import Api, User, assert_problem


async def chat_of(api: Api) -> tuple[User, str]:
    a, b = await api.user("a"), await api.user("b")
    return a, await a.direct_chat(b)


async def raw_send(user: User, chat_id: str, body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return await user.post(
        f"/api/chat/{chat_id}/messages", content=body, headers={"Content-Type": content_type}
    )


class TestStorableValues:
    async def test_lone_surrogate_is_400(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        r = await raw_send(a, chat_id, b'{"content": "\\ud800"}')
        assert_problem(r, 400, "VALIDATION_FAILED")

    @pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**30])
    async def test_integers_beyond_int64_are_400(self, api: Api, number: int) -> None:
        a, chat_id = await chat_of(api)
        body = json.dumps({"content": "x", "metadata": {"n": number}}).encode()
        assert_problem(await raw_send(a, chat_id, body), 400, "VALIDATION_FAILED")

    async def test_int64_edge_is_accepted(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        body = json.dumps({"content": "x", "metadata": {"n": 2**63 - 1}}).encode()
        r = await raw_send(a, chat_id, body)
        assert r.status_code == 201
        assert r.json()["data"]["message"]["metadata"] == {"n": 2**63 - 1}

    @pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
    async def test_non_finite_numbers_are_400(self, api: Api, literal: bytes) -> None:
        a, chat_id = await chat_of(api)
        r = await raw_send(a, chat_id, b'{"content": "x", "metadata": {"n": ' + literal + b"}}")
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_non_utf8_body_is_400(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        assert_problem(
            await raw_send(a, chat_id, b'{"content": "\xff\xfe"}'), 400, "VALIDATION_FAILED"
        )

    async def test_broken_json_is_400(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        assert_problem(await raw_send(a, chat_id, b'{"content": '), 400, "VALIDATION_FAILED")

    async def test_nul_in_content_is_400(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        assert_problem(await a.send(chat_id, "a\x00b"), 400, "VALIDATION_FAILED")

    async def test_unknown_fields_are_400(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        assert_problem(await a.send(chat_id, "x", sender="someone"), 400, "VALIDATION_FAILED")


class TestMetadata:
    @pytest.mark.parametrize("key", ["$set", "a.b", "nul\x00key"])
    async def test_forbidden_keys_are_400(self, api: Api, key: str) -> None:
        a, chat_id = await chat_of(api)
        assert_problem(await a.send(chat_id, "x", metadata={key: 1}), 400, "VALIDATION_FAILED")

    async def test_nested_forbidden_key_is_400(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        r = await a.send(chat_id, "x", metadata={"a": [{"$where": "1"}]})
        assert_problem(r, 400, "VALIDATION_FAILED")

    def nested(self, levels: int) -> dict[str, object]:
        value: dict[str, object] = {}
        for _ in range(levels - 1):
            value = {"k": value}
        return value

    async def test_eight_levels_pass_nine_fail(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        assert (await a.send(chat_id, "x", metadata=self.nested(8))).status_code == 201
        r = await a.send(chat_id, "y", metadata=self.nested(9))
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_16_kib_passes_and_more_fails(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        overhead = len(json.dumps({"v": ""}, separators=(",", ":")))
        fits = {"v": "x" * (16 * 1024 - overhead)}
        assert (await a.send(chat_id, "x", metadata=fits)).status_code == 201
        too_big = {"v": "x" * (16 * 1024 - overhead + 1)}
        assert_problem(await a.send(chat_id, "y", metadata=too_big), 400, "VALIDATION_FAILED")

    async def test_metadata_must_be_an_object(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        assert_problem(await a.send(chat_id, "x", metadata=[1, 2]), 400, "VALIDATION_FAILED")


class TestBodySize:
    async def test_json_body_over_1_mib_is_413(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        body = b'{"content": "x", "metadata": {"v": "' + b"y" * (1024 * 1024) + b'"}}'
        r = await raw_send(a, chat_id, body)
        body_problem = assert_problem(r, 413, "PAYLOAD_TOO_LARGE")
        assert body_problem["maxBytes"] == 1024 * 1024

    async def test_chunked_body_over_1_mib_is_413(self, api: Api) -> None:
        a, chat_id = await chat_of(api)

        async def chunks():  # type: ignore[no-untyped-def]
            yield b'{"content": "'
            for _ in range(20):
                yield b"z" * 65536
            yield b'"}'

        r = await a.post(
            f"/api/chat/{chat_id}/messages",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert_problem(r, 413, "PAYLOAD_TOO_LARGE")


class TestRoutingErrors:
    async def test_unknown_path_is_404_problem(self, api: Api) -> None:
        assert_problem(await api.client.get("/api/nothing-here"), 404, "NOT_FOUND")

    async def test_405_lists_every_allowed_method(self, api: Api) -> None:
        r = await api.client.delete("/api/chat")
        assert_problem(r, 405, "METHOD_NOT_ALLOWED")
        assert r.headers["Allow"] == "GET, POST"

    async def test_405_on_a_templated_path(self, api: Api) -> None:
        r = await api.client.post(
            "/api/chat/0123456789abcdef01234567/messages/0123456789abcdef01234567"
        )
        assert_problem(r, 405, "METHOD_NOT_ALLOWED")
        assert r.headers["Allow"] == "DELETE, PUT"

    async def test_wrong_content_type_is_415(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        r = await raw_send(a, chat_id, b"content=x", "application/x-www-form-urlencoded")
        assert_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
