"""What clients may send: body size, metadata shape, and values MongoDB cannot store.
Each known trap of the libraries underneath has a test here; none may answer 500."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from conftest import Api, User, assert_problem, json_operations
from impl.domain.input_rules import BODY_MAX_DEPTH, check_depth
from impl.errors import ValidationFailed

ONE_MIB = 1024 * 1024  # the limit on JSON bodies


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
        assert_problem(r, 400, "VALIDATION_FAILED", "content")

    @pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**30])
    async def test_integers_beyond_int64_are_400(self, api: Api, number: int) -> None:
        a, chat_id = await chat_of(api)
        body = json.dumps({"content": "x", "metadata": {"n": number}}).encode()
        assert_problem(await raw_send(a, chat_id, body), 400, "VALIDATION_FAILED", "64-bit")

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
        assert_problem(await a.send(chat_id, "a\x00b"), 400, "VALIDATION_FAILED", "NUL")

    async def test_unknown_fields_are_400(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        r = await a.send(chat_id, "x", sender="someone")
        assert_problem(r, 400, "VALIDATION_FAILED", "sender")


class TestMetadata:
    @pytest.mark.parametrize("key", ["$set", "a.b", "nul\x00key"])
    async def test_forbidden_keys_are_400(self, api: Api, key: str) -> None:
        a, chat_id = await chat_of(api)
        r = await a.send(chat_id, "x", metadata={key: 1})
        assert_problem(r, 400, "VALIDATION_FAILED", "metadata")

    async def test_nested_forbidden_key_is_400(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        r = await a.send(chat_id, "x", metadata={"a": [{"$where": "1"}]})
        assert_problem(r, 400, "VALIDATION_FAILED", "$where")

    def nested(self, levels: int) -> dict[str, object]:
        value: dict[str, object] = {}
        for _ in range(levels - 1):
            value = {"k": value}
        return value

    async def test_eight_levels_pass_nine_fail(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        assert (await a.sent(chat_id, "x", metadata=self.nested(8)))["metadata"] == self.nested(8)
        r = await a.send(chat_id, "y", metadata=self.nested(9))
        assert_problem(r, 400, "VALIDATION_FAILED", "metadata")

    async def test_16_kib_passes_and_more_fails(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        overhead = len(json.dumps({"v": ""}, separators=(",", ":")))
        fits = {"v": "x" * (16 * 1024 - overhead)}
        assert (await a.sent(chat_id, "x", metadata=fits))["metadata"] == fits
        too_big = {"v": "x" * (16 * 1024 - overhead + 1)}
        r = await a.send(chat_id, "y", metadata=too_big)
        assert_problem(r, 400, "VALIDATION_FAILED", "metadata")

    async def test_metadata_must_be_an_object(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        r = await a.send(chat_id, "x", metadata=[1, 2])
        assert_problem(r, 400, "VALIDATION_FAILED", "metadata")

    @staticmethod
    def nested_arrays(levels: int) -> dict[str, object]:
        """Metadata `levels` deep whose levels below the first are arrays."""
        value: list[object] = []
        for _ in range(levels - 2):
            value = [value]
        return {"k": value}

    async def test_arrays_count_as_levels(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        assert (await a.send(chat_id, "x", metadata=self.nested_arrays(8))).status_code == 201
        r = await a.send(chat_id, "y", metadata=self.nested_arrays(9))
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_arrays_and_objects_mixed_count_alike(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        eight = {"a": [{"b": [{"c": [{"d": [1]}]}]}]}
        assert (await a.send(chat_id, "x", metadata=eight)).status_code == 201
        nine = {"a": [{"b": [{"c": [{"d": [[1]]}]}]}]}
        assert_problem(await a.send(chat_id, "y", metadata=nine), 400, "VALIDATION_FAILED")

    @pytest.mark.parametrize("levels", [100, 462, 900])
    async def test_arrays_deeper_than_the_store_holds_are_400(self, api: Api, levels: int) -> None:
        a, chat_id = await chat_of(api)
        r = await a.send(chat_id, "x", metadata=self.nested_arrays(levels))
        assert_problem(r, 400, "VALIDATION_FAILED")


class TestBodySize:
    @staticmethod
    def body_of(size: int) -> bytes:
        """A JSON message body of exactly `size` bytes (its metadata far over 16 KiB)."""
        head, tail = b'{"content": "x", "metadata": {"v": "', b'"}}'
        return head + b"y" * (size - len(head) - len(tail)) + tail

    async def test_json_body_of_exactly_1_mib_is_read_and_judged(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        r = await raw_send(a, chat_id, self.body_of(ONE_MIB))
        assert_problem(r, 400, "VALIDATION_FAILED", "metadata")

    async def test_json_body_one_byte_over_1_mib_is_413(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        r = await raw_send(a, chat_id, self.body_of(ONE_MIB + 1))
        body_problem = assert_problem(r, 413, "PAYLOAD_TOO_LARGE", str(ONE_MIB))
        assert body_problem["maxBytes"] == ONE_MIB

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
        assert assert_problem(r, 413, "PAYLOAD_TOO_LARGE")["maxBytes"] == ONE_MIB


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


JSON_OPERATIONS = json_operations()


class Targets:
    """Real ids for every path template, made once per test (building them costs time)."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def setup(self) -> Targets:
        self.a, self.b = await self.api.user("a"), await self.api.user("b")
        self.chat_id = await self.a.group_chat(self.b)
        self.message_id = (await self.a.sent(self.chat_id, "hi"))["_id"]
        return self

    def path(self, template: str) -> str:
        return (
            template.replace("{participantId}", self.b.id)
            .replace("{messageId}", self.message_id)
            .replace("{id}", self.b.id if template.startswith("/api/dev/users/") else self.chat_id)
        )

    async def send(
        self, method: str, template: str, body: bytes, content_type: str | None
    ) -> httpx.Response:
        """`body` sent as is, with no Content-Type header at all when `content_type` is None."""
        request = self.api.client.build_request(
            method, self.path(template), content=body, headers=self.a.headers
        )
        if content_type is None:
            request.headers.pop("content-type", None)
        else:
            request.headers["Content-Type"] = content_type
        return await self.api.client.send(request)


NOT_JSON = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    ";;;",
    "",
    "multipart/form-data; boundary=xyz",
]


class TestMediaTypes:
    async def test_every_json_operation_answers_415_for_a_body_not_labelled_json(
        self, api: Api
    ) -> None:
        targets = await Targets(api).setup()
        for method, template, op in JSON_OPERATIONS:
            assert "415" in op["responses"], f"{op['operationId']} does not document 415"
            for content_type in NOT_JSON:
                r = await targets.send(method, template, b'{"content": "x"}', content_type)
                assert r.status_code == 415, (op["operationId"], content_type, r.text)
                assert_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")

    async def test_a_json_send_without_content_type_is_415(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        request = api.client.build_request(
            "POST", f"/api/chat/{chat_id}/messages", content=b'{"content": "x"}', headers=a.headers
        )
        request.headers.pop("content-type", None)
        assert_problem(await api.client.send(request), 415, "UNSUPPORTED_MEDIA_TYPE")

    async def test_the_json_charset_is_utf8_whatever_the_label_says(self, api: Api) -> None:
        a, chat_id = await chat_of(api)
        latin1 = '{"content": "café"}'.encode("latin-1")
        r = await raw_send(a, chat_id, latin1, "application/json; charset=latin-1")
        assert_problem(r, 400, "VALIDATION_FAILED")


class TestNesting:
    @staticmethod
    def deep(levels: int, opener: str = "[", closer: str = "]") -> str:
        return opener * levels + "1" + closer * levels

    async def test_pathological_nesting_is_400_on_every_json_operation(self, api: Api) -> None:
        targets = await Targets(api).setup()
        for method, template, op in JSON_OPERATIONS:
            for levels in (BODY_MAX_DEPTH + 1, 500, 10_000):
                body = '{"metadata": {"k": ' + self.deep(levels) + "}}"
                r = await targets.send(method, template, body.encode(), "application/json")
                assert r.status_code == 400, (op["operationId"], levels, r.text)
                assert_problem(r, 400, "VALIDATION_FAILED")

    @pytest.mark.parametrize("where", ["metadata", "unknownField", "content"])
    @pytest.mark.parametrize("opener", ['{"a": ', "["])
    async def test_ten_thousand_levels_anywhere_in_a_message_is_400(
        self, api: Api, where: str, opener: str
    ) -> None:
        a, chat_id = await chat_of(api)
        closer = "}" if opener.startswith("{") else "]"
        body = f'{{"content": "x", "{where}": {self.deep(10_000, opener, closer)}}}'
        if where == "content":
            body = f'{{"content": {self.deep(10_000, opener, closer)}}}'
        assert_problem(await raw_send(a, chat_id, body.encode()), 400, "VALIDATION_FAILED")

    def test_the_depth_check_needs_no_call_stack(self) -> None:
        value: list[object] = []
        for _ in range(100_000):
            value = [value]
        with pytest.raises(ValidationFailed):
            check_depth(value)

    def test_the_body_limit_sits_below_what_mongodb_stores(self) -> None:
        # A body value is stored at most a few levels down in a document; MongoDB holds 100.
        assert 9 <= BODY_MAX_DEPTH <= 64


def assert_refused_briefly(r: httpx.Response, caplog: pytest.LogCaptureFixture) -> None:
    """A 400 whose detail and log lines are short and quote none of the huge value."""
    problem = assert_problem(r, 400, "VALIDATION_FAILED")
    assert len(problem["detail"]) <= 200
    assert "QQQQ" not in r.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert len(logged) < 4000
    assert "QQQQ" not in logged


class TestRefusalsStaySmall:
    async def test_a_rejected_1_mb_message_is_neither_logged_nor_echoed(
        self, api: Api, caplog: pytest.LogCaptureFixture
    ) -> None:
        a, chat_id = await chat_of(api)
        caplog.set_level(logging.DEBUG)
        caplog.clear()
        content = "Q" * 1_000_000
        r = await raw_send(a, chat_id, json.dumps({"content": content}).encode())
        assert_refused_briefly(r, caplog)

    async def test_a_rejected_long_caption_is_neither_logged_nor_echoed(
        self, api: Api, caplog: pytest.LogCaptureFixture
    ) -> None:
        a, chat_id = await chat_of(api)
        caplog.set_level(logging.DEBUG)
        caplog.clear()
        r = await a.post(
            f"/api/chat/{chat_id}/messages/file",
            files={"file": ("a.txt", b"text", "text/plain")},
            data={"content": "Q" * 500_000},
        )
        assert_refused_briefly(r, caplog)
