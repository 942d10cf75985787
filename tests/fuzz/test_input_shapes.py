"""Hostile request shapes that schema-driven fuzzing does not draw: bodies whatever their
label says (a missing, odd or lying `Content-Type`), and hand-built multipart bodies (parts
with and without names, filenames and types, odd boundaries, truncated envelopes).

The property is the same for all of them: the answer is a status the operation
documents, and a 4xx is the contract's problem document. Never a 5xx. One app serves
every example of a test (state piling up is part of the fun); the rate limit is lifted so
that accepted sends do not turn every later example into a 429.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fuzzkit import PNG, fuzz_settings
from hypothesis import event, example, given
from hypothesis import strategies as st
from schemathesis.python import asgi

from conftest import json_operations
from impl.app import create_app, load_spec

SCREAMING_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")


JSON_OPERATIONS = json_operations()
FILE_OPERATION = load_spec()["paths"]["/api/chat/{id}/messages/file"]["post"]


@dataclass
class Target:
    client: Any  # the in-process client (requests' interface, responses to match)
    headers: dict[str, str]
    ids: dict[str, str]

    def path(self, template: str) -> str:
        for name, value in self.ids.items():
            template = template.replace("{" + name + "}", value)
        return template

    def send(self, method: str, path: str, body: bytes, content_type: str | None) -> Any:
        """`body` as is, with no Content-Type header at all when `content_type` is None."""
        headers = dict(self.headers)
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self.client.request(method, path, data=body, headers=headers)


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """One app and client for every example of the module (an app per example is slow)."""
    app = create_app(fuzz_settings(rate_limit=1_000_000))
    with asgi.get_client(app) as client:

        def user(name: str) -> tuple[str, dict[str, str]]:
            data = client.post("/api/dev/users", json={"name": name}).json()["data"]
            return data["user"]["_id"], {"Authorization": f"Bearer {data['token']}"}

        _, headers = user("sender")
        other, _ = user("other")
        spare, _ = user("spare")
        body = {"participantIds": [other, spare], "type": "group", "title": "shapes"}
        chat = client.post("/api/chat", json=body, headers=headers).json()["data"]["chat"]["_id"]
        message = client.post(
            f"/api/chat/{chat}/messages", json={"content": "hi"}, headers=headers
        ).json()["data"]["message"]["_id"]
        ids = {"id": chat, "messageId": message, "participantId": spare}
        yield Target(client, headers, ids)


def assert_documented_answer(response: Any, operation: dict[str, Any]) -> None:
    status = response.status_code
    event(f"answered {status}")
    assert status < 500, response.text
    assert str(status) in operation["responses"], (operation["operationId"], response.text)
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["success"] is False and problem["status"] == status
        assert SCREAMING_SNAKE.match(problem["code"]), problem
        assert isinstance(problem["detail"], str) and len(problem["detail"]) <= 500


# ---- JSON operations, whatever the body's label --------------------------------------------

# Printable ASCII; HTTP strips the whitespace around a header value (and the client refuses it).
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(
    str.strip
)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=utf-16",
            "application/json; charset=nonsense",
            "APPLICATION/JSON",
            "application/problem+json",
            "application/vnd.example+json",
            "text/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            "application/octet-stream",
            "*/*",
            "application/*",
            "application/",
            "/json",
            ";;;",
            "",
        ]
    ),
    HEADER_TEXT,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
# Half the draws labelled JSON (in some spelling), so that bodies reach validation.
JSON_LABELS = st.one_of(
    st.sampled_from(["application/json", "application/json; charset=UTF-8", "Application/JSON"]),
    CONTENT_TYPES,
)
KNOWN_BODIES = [
    {"content": "hello"},
    {"content": "x", "metadata": {"a": [1, {"b": None}]}},
    {"participantIds": []},
    {"messageIds": []},
    {"ids": []},
    {"advanceSeconds": 1},
    {"name": "someone"},
    {},
]
JSON_BODIES = st.one_of(
    st.sampled_from(KNOWN_BODIES).map(lambda body: json.dumps(body).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
)


@given(
    operation=st.sampled_from(JSON_OPERATIONS),
    content_type=JSON_LABELS,
    body=JSON_BODIES,
)
@example(operation=JSON_OPERATIONS[0], content_type=None, body=b'{"content": "x"}')
def test_json_operations_answer_any_labelled_body_with_a_documented_status(
    target: Target,
    operation: tuple[str, str, dict[str, Any]],
    content_type: str | None,
    body: bytes,
) -> None:
    method, template, op = operation
    response = target.send(method, target.path(template), body, content_type)
    assert_documented_answer(response, op)


# ---- Hand-built multipart bodies for the upload ---------------------------------------------


@dataclass(frozen=True)
class Part:
    name: str | None
    filename: str | None
    content_type: str | None
    data: bytes

    def encode(self, boundary: bytes) -> bytes:
        disposition = b"form-data"
        if self.name is not None:
            disposition += b'; name="' + self.name.encode() + b'"'
        if self.filename is not None:
            disposition += b'; filename="' + self.filename.encode("utf-8", "replace") + b'"'
        headers = b"Content-Disposition: " + disposition + b"\r\n"
        if self.content_type is not None:
            headers += b"Content-Type: " + self.content_type.encode() + b"\r\n"
        return b"--" + boundary + b"\r\n" + headers + b"\r\n" + self.data + b"\r\n"


NAMES = st.one_of(
    st.sampled_from(["file", "content", "clientMessageId", "replyToMessageId"]),
    st.none(),
    HEADER_TEXT,
)
FILENAMES = st.one_of(
    st.sampled_from(["a.txt", "p.png", "", "   ", "../../x.png", "a\x00b.txt", "dir/", "é.pdf"]),
    st.none(),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
)
PART_TYPES = st.one_of(
    st.sampled_from(["text/plain", "image/png", "application/json", "", ";;;"]),
    st.none(),
    HEADER_TEXT,
)
DATA = st.one_of(
    st.sampled_from([PNG, b"plain text", b"", b"\x00\xff\xfe", b"--xyz", b"\r\n--xyz--\r\n"]),
    st.binary(max_size=80),
)
PARTS = st.builds(Part, name=NAMES, filename=FILENAMES, content_type=PART_TYPES, data=DATA)
BOUNDARIES = st.sampled_from(
    [b"xyz", b"----WebKitFormBoundary7MA4YWxkTrZu0gW", b"b" * 70, b"with space", b'x"y']
)


def usually(draw: st.DrawFn, common: Any, rare: st.SearchStrategy[Any]) -> Any:
    """`common` three times in four, else a draw from `rare`."""
    return common if draw(st.integers(0, 3)) else draw(rare)


@st.composite
def multipart_requests(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A multipart body that is usually well-formed around one file part, with a few of
    its pieces (parts, names, filenames, types, boundary, end, length) drawn odd."""
    boundary = draw(BOUNDARIES)
    parts = draw(st.lists(PARTS, max_size=2))
    if draw(st.integers(0, 3)):
        file = Part("file", draw(FILENAMES), draw(PART_TYPES), draw(DATA))
        parts.insert(draw(st.integers(0, len(parts))), file)
    body = b"".join(part.encode(boundary) for part in parts)
    closing = b"--" + boundary + b"--\r\n"
    body += usually(draw, closing, st.sampled_from([b"--" + boundary + b"--", b""]))
    body = body[: usually(draw, len(body), st.integers(0, len(body)))]
    declared = usually(
        draw,
        boundary.decode(),
        st.sampled_from(['"' + boundary.decode() + '"', "", "other", None]),
    )
    labelled = "multipart/form-data" + ("" if declared is None else f"; boundary={declared}")
    return body, usually(draw, labelled, CONTENT_TYPES)


def file_part(filename: str, data: bytes, content_type: str | None = "text/plain") -> bytes:
    return Part("file", filename, content_type, data).encode(b"xyz") + b"--xyz--\r\n"


@given(request=multipart_requests())
@example(request=(Part("file", None, "text/plain", b"text").encode(b"xyz"), None))
@example(
    request=(
        Part("file", None, "text/plain", b"text").encode(b"xyz") + b"--xyz--\r\n",
        "multipart/form-data; boundary=xyz",
    )
)
@example(request=(file_part("   ", b"text"), "multipart/form-data; boundary=xyz"))
@example(request=(file_part("a.txt", b""), "multipart/form-data; boundary=xyz"))
def test_the_upload_answers_any_multipart_shape_with_a_documented_status(
    target: Target, request: tuple[bytes, str | None]
) -> None:
    body, content_type = request
    path = target.path("/api/chat/{id}/messages/file")
    assert_documented_answer(target.send("POST", path, body, content_type), FILE_OPERATION)
