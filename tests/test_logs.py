"""Logs: text by default; with LOG_FORMAT=json every record the process writes is one JSON
object on its own line, carrying the request id and user of the request it belongs to."""

from __future__ import annotations

import contextvars
import json
import logging

import httpx
import pytest

from impl import logs
from impl.launcher import Launched
from impl.settings import Settings, SettingsError
from impl.web.context import begin_request

# what `serve` prints for its reader (not log records): the demo users and the URLs
PRINTED = ("Docs: ", "Demo users", "  ")


def test_json_format_writes_every_record_as_one_object() -> None:
    with Launched(settings={"LOG_FORMAT": "json"}) as server:
        made = httpx.post(f"{server.url}/api/dev/users", json={"name": "Logged"}).json()["data"]
        headers = {"Authorization": f"Bearer {made['token']}", "X-Request-ID": "json-req-1"}
        assert httpx.get(f"{server.url}/api/chat", headers=headers).status_code == 200
        server.stop()
        output = server.output()
    records = [json.loads(line) for line in output.splitlines() if not line.startswith(PRINTED)]
    assert records and all(isinstance(r, dict) for r in records)
    assert {"time", "level", "name", "message"} <= set(records[0])
    assert any(r["name"].startswith("uvicorn") for r in records), "uvicorn's own lines too"
    access = [r for r in records if r["name"] == "impl.access" and r["path"] == "/api/chat"]
    assert len(access) == 1
    assert access[0]["requestId"] == "json-req-1"
    assert access[0]["userId"] == made["user"]["_id"]
    assert (access[0]["method"], access[0]["status"]) == ("GET", 200)
    assert made["token"] not in output


def test_a_record_logged_during_a_request_names_it() -> None:
    def during_a_request() -> logging.LogRecord:
        info = begin_request("req-42")
        info["userId"] = "000000000000000000000b01"
        record = logging.LogRecord("impl.test", logging.INFO, __file__, 1, "hello", None, None)
        assert logs.RequestContext().filter(record)
        return record

    record = contextvars.copy_context().run(during_a_request)
    assert (record.requestId, record.userId) == ("req-42", "000000000000000000000b01")
    outside = logging.LogRecord("impl.test", logging.INFO, __file__, 1, "hello", None, None)
    assert logs.RequestContext().filter(outside)
    assert not hasattr(outside, "requestId")


def test_json_formatter_keeps_extra_fields() -> None:
    record = logging.LogRecord("impl.access", logging.INFO, __file__, 1, "GET /", None, None)
    record.status = 200
    line = json.loads(logs.formatter("json").format(record))
    assert (line["message"], line["status"], line["level"]) == ("GET /", 200, "INFO")


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(SettingsError, match="LOG_FORMAT must be one of text, json"):
        Settings(log_format="xml").check()
