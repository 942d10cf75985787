"""Checks on asyncapi.yaml itself, before any server runs.

The document must satisfy the official AsyncAPI JSON schema shipped in node_modules, name
exactly the Socket.IO events the contract fixes, carry examples that match their own
schemas, agree with openapi.yaml on which events are replayable, and pass the AsyncAPI
parser run by tools/validate-asyncapi.mjs, which must also refuse a dangling `$ref`. The
helper in asyncapi_contract.py is checked here too, since the server tests rely on it.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for

from asyncapi_contract import (
    ASYNCAPI_PATH,
    CLIENT_EVENTS,
    OPENAPI_PATH,
    ROOT,
    SEQUENCED_EVENTS,
    SERVER_EVENTS,
    event_examples,
    load_asyncapi,
    load_yaml,
    message_examples,
    schema_examples,
    validate_ack,
    validate_client_event,
    validate_message_payload,
    validate_schema,
    validate_server_event,
)

SPECS_DIR = ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas"
PARSER_DIR = ROOT / "node_modules" / "@asyncapi" / "parser"
VALIDATOR_SCRIPT = ROOT / "tools" / "validate-asyncapi.mjs"
CHAT_ID = "665f1c2e9b1e8a3d4c5b6a80"

EXPECTED_SERVER_EVENTS = {
    "new-message",
    "message-edited",
    "message-deleted",
    "messages-read",
    "participants-added",
    "participant-removed",
    "user-typing",
}
EXPECTED_CLIENT_EVENTS = {"join-chat-room", "leave-chat-room", "typing-start", "typing-stop"}


def _official_schema() -> dict[str, Any]:
    version = load_asyncapi()["asyncapi"]
    path = SPECS_DIR / f"{version}.json"
    if not SPECS_DIR.is_dir():
        pytest.skip("node_modules/@asyncapi/specs is absent: run `npm ci` first")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _example_of(event: str) -> dict[str, Any]:
    """The first example payload of a server event (a fresh copy)."""
    payload = event_examples(event)[0]
    assert isinstance(payload, dict)
    return payload


def _messages_without_examples() -> list[str]:
    messages = load_asyncapi()["components"]["messages"]
    return [key for key, message in messages.items() if not message.get("examples")]


def test_matches_the_official_asyncapi_json_schema() -> None:
    schema = _official_schema()
    validator = validator_for(schema)(schema)
    errors = [f"{e.json_path}: {e.message[:200]}" for e in validator.iter_errors(load_asyncapi())]
    assert errors == []


def test_official_schema_check_catches_a_broken_document() -> None:
    schema = _official_schema()
    broken = copy.deepcopy(load_asyncapi())
    broken["operations"]["joinChatRoom"]["action"] = "listen"
    assert not validator_for(schema)(schema).is_valid(broken)


def test_server_events_are_exactly_the_contracts() -> None:
    assert set(SERVER_EVENTS) == EXPECTED_SERVER_EVENTS


def test_client_events_are_exactly_the_contracts() -> None:
    assert set(CLIENT_EVENTS) == EXPECTED_CLIENT_EVENTS


def test_every_event_but_typing_carries_seq() -> None:
    ephemeral = SERVER_EVENTS - SEQUENCED_EVENTS
    assert ephemeral == {"user-typing"}


def test_replayable_events_agree_with_openapi() -> None:
    chat_event = load_yaml(OPENAPI_PATH)["components"]["schemas"]["ChatEvent"]
    assert set(chat_event["properties"]["event"]["enum"]) == SEQUENCED_EVENTS


def test_every_message_has_an_example() -> None:
    assert _messages_without_examples() == []


@pytest.mark.parametrize(
    ("key", "payload"),
    [pytest.param(key, payload, id=f"{key}:{name}") for key, name, payload in message_examples()],
)
def test_message_example_matches_its_payload_schema(key: str, payload: object) -> None:
    validate_message_payload(key, payload)


@pytest.mark.parametrize(
    ("name", "example"),
    [pytest.param(name, value, id=f"{name}:{index}") for name, index, value in schema_examples()],
)
def test_schema_example_matches_its_schema(name: str, example: object) -> None:
    validate_schema(name, example)


@pytest.mark.parametrize("event", sorted(EXPECTED_SERVER_EVENTS))
def test_server_event_without_chat_id_is_rejected(event: str) -> None:
    payload = _example_of(event)
    del payload["chatId"]
    with pytest.raises(AssertionError, match="chatId"):
        validate_server_event(event, payload)


@pytest.mark.parametrize("event", sorted(EXPECTED_SERVER_EVENTS - {"user-typing"}))
def test_sequenced_event_without_seq_is_rejected(event: str) -> None:
    payload = _example_of(event)
    del payload["seq"]
    with pytest.raises(AssertionError, match="seq"):
        validate_server_event(event, payload)


def test_server_payloads_stay_open_to_new_fields() -> None:
    payload = _example_of("new-message") | {"extra": 1}
    validate_server_event("new-message", payload)


def test_typing_event_with_seq_is_rejected() -> None:
    payload = _example_of("user-typing") | {"seq": 3}
    with pytest.raises(AssertionError, match="user-typing"):
        validate_server_event("user-typing", payload)


@pytest.mark.parametrize("event", ["chat-message", "join-chat-room", ""])
def test_undocumented_server_event_is_rejected(event: str) -> None:
    with pytest.raises(AssertionError, match="not a documented"):
        validate_server_event(event, {"chatId": CHAT_ID, "seq": 1})


def test_bad_timestamp_is_rejected() -> None:
    payload = _example_of("messages-read") | {"readAt": "yesterday"}
    with pytest.raises(AssertionError, match="readAt"):
        validate_server_event("messages-read", payload)


@pytest.mark.parametrize("payload", [CHAT_ID, {"chatId": CHAT_ID}])
def test_room_requests_take_an_id_or_an_object(payload: object) -> None:
    validate_client_event("join-chat-room", payload)
    validate_client_event("leave-chat-room", payload)


@pytest.mark.parametrize(
    "payload", [None, 5, "not-an-id", {}, {"chatId": "x"}, {"chatId": CHAT_ID, "more": 1}]
)
def test_bad_room_requests_are_rejected(payload: object) -> None:
    with pytest.raises(AssertionError):
        validate_client_event("join-chat-room", payload)


def test_typing_takes_only_the_object_form() -> None:
    validate_client_event("typing-start", {"chatId": CHAT_ID})
    with pytest.raises(AssertionError):
        validate_client_event("typing-stop", CHAT_ID)


@pytest.mark.parametrize(
    "ack", [{"success": True}, {"success": False, "error": {"code": "NOT_FOUND", "detail": "x"}}]
)
def test_valid_acks_pass(ack: object) -> None:
    validate_ack(ack)


@pytest.mark.parametrize(
    "ack",
    [
        {},
        {"success": False},
        {"success": False, "error": {"code": "NOT_FOUND"}},
        {"success": False, "error": {"code": "not found", "detail": "x"}},
        {"success": "yes"},
        [],
    ],
)
def test_invalid_acks_fail(ack: object) -> None:
    with pytest.raises(AssertionError, match="acknowledgement"):
        validate_ack(ack)


def _node_or_skip() -> str:
    node = shutil.which("node")
    if node is None or not PARSER_DIR.is_dir():
        pytest.skip("node or node_modules/@asyncapi/parser is absent: run `npm ci` first")
    return node


def _run_validator(node: str, document: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(VALIDATOR_SCRIPT), str(document)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.node
def test_asyncapi_parser_accepts_the_document() -> None:
    result = _run_validator(_node_or_skip(), ASYNCAPI_PATH)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.node
def test_asyncapi_parser_refuses_a_dangling_ref(tmp_path: Path) -> None:
    node = _node_or_skip()
    shutil.copy(OPENAPI_PATH, tmp_path / "openapi.yaml")
    text = ASYNCAPI_PATH.read_text(encoding="utf-8")
    broken = text.replace("schemas/Message'", "schemas/NoSuchMessage'")
    assert broken != text
    (tmp_path / "asyncapi.yaml").write_text(broken, encoding="utf-8")
    result = _run_validator(node, tmp_path / "asyncapi.yaml")
    assert result.returncode == 1
    assert "NoSuchMessage" in result.stdout
