"""File messages and downloads: limits before memory is spent, types decided from the
bytes, safe names, participants only, and files gone with their message."""

from __future__ import annotations

import struct
import zlib

import pytest

from conftest import Api, User, assert_problem
from impl.app import ChatApp
from impl.domain.attachments import safe_filename

PNG_1PX = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13)
    + b"IHDR"
    + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    + struct.pack(">I", zlib.crc32(b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)))
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 100
TEN_MIB = 10 * 1024 * 1024  # the default CHAT_MAX_UPLOAD_BYTES: the size of the file itself


async def setup(api: Api) -> tuple[User, User, str]:
    a, b = await api.user("a"), await api.user("b")
    return a, b, await a.direct_chat(b)


async def upload(
    user: User, chat_id: str, name: str, data: bytes, claimed: str = "image/png", **form: str
):  # type: ignore[no-untyped-def]
    return await user.post(
        f"/api/chat/{chat_id}/messages/file",
        files={"file": (name, data, claimed)},
        data=form,
    )


class TestSendFileMessage:
    async def test_png_is_stored_and_downloadable(self, api: Api) -> None:
        a, b, chat_id = await setup(api)
        r = await upload(a, chat_id, "photo.png", PNG_1PX, content="  look  ")
        assert r.status_code == 201, r.text
        message = r.json()["data"]["message"]
        assert message["content"] == "look"
        (attachment,) = message["attachments"]
        assert attachment["filename"] == "photo.png"
        assert attachment["mimeType"] == "image/png"
        assert attachment["size"] == len(PNG_1PX)
        assert attachment["url"] == f"/api/chat/{chat_id}/attachments/{attachment['fileId']}"
        assert r.headers["X-RateLimit-Remaining"] == "19"
        got = await b.get(attachment["url"])
        assert got.status_code == 200
        assert got.content == PNG_1PX
        assert got.headers["content-type"] == "image/png"
        assert got.headers["content-disposition"] == 'attachment; filename="photo.png"'
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-length"] == str(len(PNG_1PX))

    @pytest.mark.parametrize(
        ("data", "mime"),
        [
            (PDF, "application/pdf"),
            ("héllo wörld\n".encode(), "text/plain"),
            (b"GIF89a" + b"\x00" * 20, "image/gif"),
        ],
    )
    async def test_type_comes_from_the_bytes(self, api: Api, data: bytes, mime: str) -> None:
        a, _, chat_id = await setup(api)
        r = await upload(a, chat_id, "whatever.bin", data, "application/octet-stream")
        assert r.status_code == 201, r.text
        assert r.json()["data"]["message"]["attachments"][0]["mimeType"] == mime

    @pytest.mark.parametrize(
        "data",
        [
            b"<!DOCTYPE html><script>alert(1)</script>",
            b"  <svg onload=alert(1)>",
            ELF,
            b"\x00\x01\x02binary",
        ],
    )
    async def test_spoofed_types_are_415(self, api: Api, data: bytes) -> None:
        a, _, chat_id = await setup(api)
        r = await upload(a, chat_id, "innocent.png", data, "image/png")
        assert_problem(r, 415, "UNSUPPORTED_FILE_TYPE", "not accepted")
        history = await a.get(f"/api/chat/{chat_id}/messages")
        assert history.json()["data"]["messages"] == []

    async def test_file_one_byte_over_10_mib_is_413_with_max_bytes(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        data = PNG_1PX + b"\x00" * (TEN_MIB - len(PNG_1PX) + 1)
        r = await upload(a, chat_id, "big.png", data, content="too big")
        body = assert_problem(r, 413, "FILE_TOO_LARGE", str(TEN_MIB))
        assert body["maxBytes"] == TEN_MIB
        history = await a.get(f"/api/chat/{chat_id}/messages")
        assert history.json()["data"]["messages"] == []
        after = await upload(a, chat_id, "small.png", PNG_1PX)
        assert after.headers["X-RateLimit-Remaining"] == "19"  # the refusal used no allowance

    async def test_file_of_exactly_10_mib_passes_whole(self, api: Api) -> None:
        a, b, chat_id = await setup(api)
        data = PNG_1PX + b"\x00" * (TEN_MIB - len(PNG_1PX))
        r = await upload(a, chat_id, "edge.png", data, content="just fits")
        assert r.status_code == 201, r.text
        (attachment,) = r.json()["data"]["message"]["attachments"]
        assert (attachment["size"], attachment["mimeType"]) == (TEN_MIB, "image/png")
        got = await b.get(attachment["url"])
        assert got.headers["content-length"] == str(TEN_MIB)
        assert got.content == data

    async def test_oversized_content_length_is_refused_before_the_body(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        read = 0

        async def endless():  # type: ignore[no-untyped-def]
            nonlocal read
            for _ in range(1000):
                read += 1
                yield b"x" * 65536

        r = await a.post(
            f"/api/chat/{chat_id}/messages/file",
            content=endless(),
            headers={
                "Content-Type": "multipart/form-data; boundary=xyz",
                "Content-Length": str(11 * 1024 * 1024),
            },
        )
        body = assert_problem(r, 413, "FILE_TOO_LARGE")
        assert body["maxBytes"] == TEN_MIB
        assert read <= 1

    async def test_names_lose_paths_controls_and_markup(self, api: Api) -> None:
        a, b, chat_id = await setup(api)
        raw = b"../../etc/<img src=x onerror=alert(1)>pass\x07wd.txt"
        body = (
            b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="'
            + raw
            + b'"\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--xyz--\r\n'
        )
        r = await a.post(
            f"/api/chat/{chat_id}/messages/file",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
        attachment = r.json()["data"]["message"]["attachments"][0]
        assert attachment["filename"] == "_img src=x onerror=alert(1)_passwd.txt"
        got = await b.get(attachment["url"])
        assert got.headers["content-disposition"] == (
            'attachment; filename="_img src=x onerror=alert(1)_passwd.txt"'
        )

    async def test_non_ascii_names_use_rfc6266_filename_star(self, api: Api) -> None:
        a, b, chat_id = await setup(api)
        r = await upload(a, chat_id, "résumé.pdf", PDF, "application/pdf")
        url = r.json()["data"]["message"]["attachments"][0]["url"]
        disposition = (await b.get(url)).headers["content-disposition"]
        assert (
            disposition
            == "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        )

    async def test_missing_file_is_400(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        r = await a.post(
            f"/api/chat/{chat_id}/messages/file",
            data={"content": "no file"},
            files={"other": ("x", b"1")},
        )
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_idempotent_by_client_message_id(self, api: Api, app: ChatApp) -> None:
        a, _, chat_id = await setup(api)
        first = await upload(a, chat_id, "a.png", PNG_1PX, clientMessageId="f-1")
        again = await upload(a, chat_id, "a.png", PNG_1PX, clientMessageId="f-1")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["data"]["message"] == first.json()["data"]["message"]
        other = await upload(a, chat_id, "b.png", PNG_1PX + b"\x00", clientMessageId="f-1")
        assert_problem(other, 409, "IDEMPOTENCY_CONFLICT", "clientMessageId")
        assert app.services.store.db["fs.files"].count_documents({}) == 1

    async def test_counts_toward_the_rate_limit(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        for n in range(20):
            await a.sent(chat_id, f"m{n}")
        r = await upload(a, chat_id, "a.png", PNG_1PX)
        body = assert_problem(r, 429, "RATE_LIMITED")
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert body["retryAfter"] == int(r.headers["Retry-After"])
        assert r.headers["X-RateLimit-Remaining"] == "0"
        history = (await a.get(f"/api/chat/{chat_id}/messages")).json()["data"]["messages"]
        assert len(history) == 20 and all(m["attachments"] == [] for m in history)

    async def test_non_participant_is_403(self, api: Api) -> None:
        _, _, chat_id = await setup(api)
        c = await api.user("c")
        assert_problem(await upload(c, chat_id, "a.png", PNG_1PX), 403, "NOT_PARTICIPANT")


class TestDownloadAttachment:
    async def test_non_participant_is_403(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        c = await api.user("c")
        url = (await upload(a, chat_id, "a.png", PNG_1PX)).json()["data"]["message"]["attachments"][
            0
        ]["url"]
        assert_problem(await c.get(url), 403, "NOT_PARTICIPANT")

    async def test_etag_and_if_none_match(self, api: Api) -> None:
        a, b, chat_id = await setup(api)
        url = (await upload(a, chat_id, "a.png", PNG_1PX)).json()["data"]["message"]["attachments"][
            0
        ]["url"]
        first = await b.get(url)
        again = await b.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""

    async def test_gone_after_the_message_is_deleted(self, api: Api, app: ChatApp) -> None:
        a, b, chat_id = await setup(api)
        message = (await upload(a, chat_id, "a.png", PNG_1PX)).json()["data"]["message"]
        await a.request("DELETE", f"/api/chat/{chat_id}/messages/{message['_id']}")
        assert_problem(await b.get(message["attachments"][0]["url"]), 404, "NOT_FOUND")
        db = app.services.store.db
        assert db["fs.files"].count_documents({}) == 0
        assert db["fs.chunks"].count_documents({}) == 0

    async def test_file_of_another_chat_is_404(self, api: Api) -> None:
        a, b, chat_id = await setup(api)
        other = await a.direct_chat(await api.user("c"))
        message = (await upload(a, other, "a.png", PNG_1PX)).json()["data"]["message"]
        file_id = message["attachments"][0]["fileId"]
        assert_problem(await a.get(f"/api/chat/{chat_id}/attachments/{file_id}"), 404, "NOT_FOUND")


def form_part(disposition: bytes, data: bytes, content_type: bytes | None = b"text/plain") -> bytes:
    headers = b"Content-Disposition: form-data; " + disposition + b"\r\n"
    if content_type is not None:
        headers += b"Content-Type: " + content_type + b"\r\n"
    return b"--xyz\r\n" + headers + b"\r\n" + data + b"\r\n"


async def post_form(user: User, chat_id: str, *parts: bytes):  # type: ignore[no-untyped-def]
    return await user.post(
        f"/api/chat/{chat_id}/messages/file",
        content=b"".join(parts) + b"--xyz--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )


class TestUploadShapes:
    """Odd multipart shapes: each answered with a clear 4xx, or stored under a safe name."""

    async def test_a_file_part_without_filename_is_400(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        r = await upload(a, chat_id, "", b"plain text", "text/plain")  # httpx drops filename=""
        assert_problem(r, 400, "VALIDATION_FAILED", "filename")

    @pytest.mark.parametrize("disposition", [b'name="file"', b'name="file"; filename=""'])
    async def test_a_raw_file_part_without_a_name_for_its_file_is_400(
        self, api: Api, disposition: bytes
    ) -> None:
        a, _, chat_id = await setup(api)
        r = await post_form(a, chat_id, form_part(disposition, b"plain text"))
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_a_filename_of_only_spaces_is_400(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        r = await upload(a, chat_id, "   ", b"plain text", "text/plain")
        assert_problem(r, 400, "VALIDATION_FAILED")

    async def test_two_file_parts_are_400(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        r = await a.post(
            f"/api/chat/{chat_id}/messages/file",
            files=[("file", ("a.txt", b"one", "text/plain")), ("file", ("b.txt", b"two"))],
        )
        assert_problem(r, 400, "VALIDATION_FAILED", "one file")

    async def test_an_empty_file_is_400(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        r = await upload(a, chat_id, "a.txt", b"")
        assert_problem(r, 400, "VALIDATION_FAILED", "empty")

    async def test_a_part_without_content_type_is_typed_by_its_bytes(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        r = await post_form(a, chat_id, form_part(b'name="file"; filename="p.png"', PNG_1PX, None))
        assert r.status_code == 201, r.text
        assert r.json()["data"]["message"]["attachments"][0]["mimeType"] == "image/png"

    @pytest.mark.parametrize(
        ("raw", "safe"), [(b"../../a.txt", "a.txt"), (b"a\x00b.txt", "ab.txt"), (b"dir\\", "file")]
    )
    async def test_odd_filenames_are_stored_sanitised(
        self, api: Api, raw: bytes, safe: str
    ) -> None:
        a, _, chat_id = await setup(api)
        r = await post_form(a, chat_id, form_part(b'name="file"; filename="' + raw + b'"', b"text"))
        assert r.status_code == 201, r.text
        assert r.json()["data"]["message"]["attachments"][0]["filename"] == safe

    async def test_a_multipart_body_without_content_type_is_415(self, api: Api) -> None:
        a, _, chat_id = await setup(api)
        request = api.client.build_request(
            "POST",
            f"/api/chat/{chat_id}/messages/file",
            content=form_part(b'name="file"; filename="a.txt"', b"text") + b"--xyz--\r\n",
            headers=a.headers,
        )
        request.headers.pop("content-type", None)
        assert_problem(await api.client.send(request), 415, "UNSUPPORTED_MEDIA_TYPE")

    @pytest.mark.parametrize(
        "content_type",
        [
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=other",
        ],
    )
    async def test_a_boundary_that_is_missing_or_wrong_is_400(
        self, api: Api, content_type: str
    ) -> None:
        a, _, chat_id = await setup(api)
        r = await a.post(
            f"/api/chat/{chat_id}/messages/file",
            content=form_part(b'name="file"; filename="a.txt"', b"text") + b"--xyz--\r\n",
            headers={"Content-Type": content_type},
        )
        assert_problem(r, 400, "VALIDATION_FAILED")

    @pytest.mark.parametrize("keep", [10, 60, 90])
    async def test_a_truncated_body_is_400(self, api: Api, keep: int) -> None:
        a, _, chat_id = await setup(api)
        whole = form_part(b'name="file"; filename="a.txt"', b"some text") + b"--xyz--\r\n"
        r = await a.post(
            f"/api/chat/{chat_id}/messages/file",
            content=whole[:keep],
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
        assert_problem(r, 400, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("a/b/c.png", "c.png"),
        ("..\\..\\win.ini", "win.ini"),
        ("<script>x</script>.txt", "script_.txt"),
        ('"quoted";rm -rf.txt', "_quoted__rm -rf.txt"),
        ("\x00\x1f\u202ename.txt", "name.txt"),
        ("", "file"),
        ("...", "file"),
        ("x" * 300 + ".png", "x" * 200),
    ],
)
def test_safe_filename(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe
