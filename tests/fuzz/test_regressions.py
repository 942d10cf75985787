"""Failures the fuzzers found, kept as plain tests so that they stay fixed whatever the
random draws of a later run.

1. Uploads leaked two spooled temporary files each (the validator's parse and the
   handler's), reported as ResourceWarning at garbage collection.
2. A JSON body of `null` on an operation whose body is optional was taken for "no body"
   (200) instead of a body of the wrong type (400).
3. `PUT /api/chat/{id}/messages/read` was routed as an edit of a message with id "read"
   (400) although OpenAPI matches the concrete path first, which has no PUT (405).
4. A malformed multipart body answered 500 (the parser's exception was not a problem).
5. An event's `createdAt` could be a millisecond off the change it reports, so a client
   replaying `message-deleted` could not reproduce `deletedAt`.
6. A media type spelled in capitals (`Application/JSON`) passed the media type check but
   matched no body schema: validation was skipped and the handler got raw bytes (500).
7. A file under a text field's name, next to a text part of that name, broke Connexion's
   form decoding (500).
8. A multipart body cut off inside a part left that part's spooled file open
   (ResourceWarning) and was otherwise taken for a form without it.
"""

from __future__ import annotations

import gc
import itertools
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from fuzzkit import PNG, Api, Member, run_app

from impl.app import ChatApp
from impl.clock import TimeSource, to_millis


def problem(response_json: dict[str, object], status: int) -> None:
    assert response_json["success"] is False
    assert response_json["status"] == status
    assert isinstance(response_json["code"], str)


async def _two_in_a_chat(api: Api) -> tuple[Member, Member, str]:
    a, b = await api.user("a"), await api.user("b")
    return a, b, await api.chat(a, b)


def test_uploads_leave_no_temporary_file_open() -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, _, chat = await _two_in_a_chat(api)
        for _ in range(3):
            files = {"file": ("p.png", PNG, "image/png")}
            r = await api.call(a, "POST", f"/api/chat/{chat}/messages/file", files=files)
            assert r.status_code == 201, r.text

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run_app(scenario)
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


def test_a_null_json_body_is_a_body_of_the_wrong_type() -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, _, chat = await _two_in_a_chat(api)
        optional_bodies = [
            ("PUT", f"/api/chat/{chat}/archive"),
            ("PATCH", f"/api/chat/{chat}/messages/read"),
            ("POST", "/api/chat/support"),
            ("PATCH", "/api/notifications/read"),
        ]
        json_null: dict[str, Any] = {
            "content": b"null",
            "headers": {"Content-Type": "application/json"},
        }
        for method, path in optional_bodies:
            r = await api.call(a, method, path, **json_null)
            assert r.status_code == 400, (path, r.text)
            problem(r.json(), 400)
            r = await api.call(a, method, path)  # no body at all is still fine
            assert r.status_code in (200, 201), (path, r.text)

    run_app(scenario)


def test_concrete_paths_win_over_templated_ones_for_405() -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, _, chat = await _two_in_a_chat(api)
        base = f"/api/chat/{chat}/messages"
        for method, path, allow in [
            ("PUT", f"{base}/read", "PATCH"),
            ("DELETE", f"{base}/read", "PATCH"),
            ("PUT", f"{base}/file", "POST"),
            ("DELETE", f"{base}/file", "POST"),
        ]:
            r = await api.call(a, method, path, json={"content": "x"})
            assert r.status_code == 405, (method, path, r.text)
            assert r.headers["allow"] == allow
            problem(r.json(), 405)
        message = await api.data(a, "POST", base, json={"content": "hello"})
        message_id = message["message"]["_id"]
        r = await api.call(a, "PUT", f"{base}/{message_id}", json={"content": "edited"})
        assert r.status_code == 200, r.text  # the templated path still routes real ids

    run_app(scenario)


def test_malformed_multipart_is_400() -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, _, chat = await _two_in_a_chat(api)
        boundary = "7c5156fb04a2177cf9e322ad31ebde44"
        for body in (
            f"--{boundary}\r\nNone--{boundary}--\r\n",  # what the CLI run sent
            f"--{boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{boundary}--\r\n",
        ):
            r = await api.call(
                a,
                "POST",
                f"/api/chat/{chat}/messages/file",
                content=body.encode(),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            assert r.status_code == 400, r.text
            problem(r.json(), 400)

    run_app(scenario)


def ticking_time() -> TimeSource:
    """Time that moves one millisecond every time it is read: two reads within one
    request (the change, then its event) are always a millisecond apart."""
    start = to_millis(datetime.now(UTC))
    reads = itertools.count(1)
    return lambda: start + timedelta(milliseconds=next(reads))


def test_events_carry_the_instant_of_their_change() -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, b, chat = await _two_in_a_chat(api)
        base = f"/api/chat/{chat}/messages"
        sent = (await api.data(a, "POST", base, json={"content": "hello"}))["message"]
        edited = await api.data(a, "PUT", f"{base}/{sent['_id']}", json={"content": "hi"})
        await api.data(b, "PATCH", f"{base}/read")
        deleted = await api.data(a, "DELETE", f"{base}/{sent['_id']}")
        events = (await api.data(b, "GET", f"/api/chat/{chat}/events"))["events"]
        at = {e["event"]: e["createdAt"] for e in events}
        assert at["new-message"] == sent["createdAt"]
        assert at["message-edited"] == edited["message"]["editedAt"]
        assert at["messages-read"] == deleted["message"]["readBy"][1]["readAt"]
        assert at["message-deleted"] == deleted["message"]["deletedAt"]

    run_app(scenario, time=ticking_time())


def test_media_types_are_case_insensitive() -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, _, chat = await _two_in_a_chat(api)
        path = f"/api/chat/{chat}/messages"
        for label in ("APPLICATION/JSON", "Application/Json; charset=UTF-8"):
            headers = {"Content-Type": label}
            r = await api.call(a, "POST", path, content=b'{"content": "x"}', headers=headers)
            assert r.status_code == 201, (label, r.text)
            r = await api.call(a, "POST", path, content=b'{"sender": "x"}', headers=headers)
            assert r.status_code == 400, (label, r.text)  # validated, not skipped
            problem(r.json(), 400)

    run_app(scenario)


def _form(*parts: bytes) -> dict[str, Any]:
    body = b"".join(
        b"--xyz\r\nContent-Disposition: form-data; "
        + disposition
        + b"\r\nContent-Type: text/plain\r\n\r\nsome text\r\n"
        for disposition in parts
    )
    return {
        "content": body + b"--xyz--\r\n",
        "headers": {"Content-Type": "multipart/form-data; boundary=xyz"},
    }


def test_a_file_under_a_text_field_is_400() -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, _, chat = await _two_in_a_chat(api)
        form = _form(
            b'name="content"',
            b'name="content"; filename="c.txt"',
            b'name="file"; filename="a.txt"',
        )
        r = await api.call(a, "POST", f"/api/chat/{chat}/messages/file", **form)
        assert r.status_code == 400, r.text
        problem(r.json(), 400)

    run_app(scenario)


def test_a_truncated_multipart_body_is_400_and_leaves_no_file_open() -> None:
    async def scenario(api: Api, app: ChatApp) -> None:
        a, _, chat = await _two_in_a_chat(api)
        form = _form(b'name="file"; filename="a.txt"', b'name="content"; filename="b.txt"')
        form["content"] = form["content"][:-20]  # into the second part's data
        r = await api.call(a, "POST", f"/api/chat/{chat}/messages/file", **form)
        assert r.status_code == 400, r.text
        problem(r.json(), 400)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run_app(scenario)
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
