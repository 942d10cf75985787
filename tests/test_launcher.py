"""impl.launcher: one environment policy for every launched server, and a server that is
found by the line it prints once it listens."""

from __future__ import annotations

import urllib.request

import pytest

from impl.launcher import Launched, ServerFailed, server_env
from impl.settings import ENV_VARS, RUN_WIDE_VARS


def test_no_settings_variable_of_the_caller_reaches_the_server_but_the_run_wide_ones() -> None:
    base = {**dict.fromkeys(ENV_VARS, "from the shell"), "HOME": "/home/someone"}
    env = server_env({"CHAT_RATE_LIMIT": "5"}, base=base)
    passed = {k: v for k, v in env.items() if k in ENV_VARS}
    assert passed == {"CHAT_RATE_LIMIT": "5", "CHAT_STORE_ENGINE": "from the shell"}
    assert RUN_WIDE_VARS == ("CHAT_STORE_ENGINE",)
    assert env["HOME"] == "/home/someone"


def test_a_variable_can_be_kept_by_name() -> None:
    base = {"MONGO_TIMEOUT_MS": "300", "REDIS_URL": "redis://ci:6379/0"}
    env = server_env(keep=["MONGO_TIMEOUT_MS"], base=base)
    assert env["MONGO_TIMEOUT_MS"] == "300"
    assert "REDIS_URL" not in env


def test_a_name_the_server_does_not_read_is_refused() -> None:
    with pytest.raises(ValueError, match="CHAT_RATE_LIMITS"):
        server_env({"CHAT_RATE_LIMITS": "5"})


def test_a_launched_server_answers_at_its_url_and_stops_cleanly() -> None:
    with Launched(settings={"CHAT_MAX_MESSAGE_LENGTH": "77"}) as server:
        with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=10) as answer:
            assert b'"maxLength": 77' in answer.read()
        assert server.output().count("Docs: ") == 1
    assert server.process is not None and server.process.returncode == 0
    assert not server.running


def test_a_server_that_cannot_start_fails_with_its_output() -> None:
    server = Launched(settings={"MONGODB_URI": "mongodb://127.0.0.1:1/"})
    with pytest.raises(ServerFailed, match="JWT_SECRET must be set"):
        server.start()
    assert not server.running


def test_a_started_server_is_not_started_again_by_with() -> None:
    server = Launched().start()
    first = server.process
    with server:
        assert server.process is first
    assert first is not None and first.returncode == 0
