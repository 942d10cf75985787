"""The served contracts describe the server that serves them: the limits it is configured
with (impl.specs.LIMITS) and a usable `servers` entry; validation follows the same copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import Api, assert_problem
from impl import specs
from impl.app import ChatApp, create_app
from impl.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ("components", "schemas", "MessageContent", "maxLength")
FILE_CAPTION = ("components", "schemas", "SendFileMessageRequest", "properties", "content")


def at(document: dict[str, Any], *keys: str) -> Any:
    node: Any = document
    for key in keys:
        node = node[key]
    return node


def file_document(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return document


def test_with_the_defaults_the_served_documents_are_the_files() -> None:
    served = specs.served_specs(Settings())
    assert served.openapi == file_document("openapi.yaml")
    assert served.asyncapi == file_document("asyncapi.yaml")
    assert served.as_yaml("openapi.yaml") == (ROOT / "openapi.yaml").read_bytes()


def test_every_row_of_the_table_changes_its_place() -> None:
    odd = Settings(
        max_message_length=321,
        edit_window_seconds=125,
        rate_limit=7,
        rate_window_seconds=33,
        max_upload_bytes=2048,
        multipart_allowance_bytes=3 * 1024,
        metadata_max_bytes=4 * 1024,
        metadata_max_depth=5,
        max_header_bytes=32 * 1024,
        max_header_count=50,
        socket_connect_timeout_seconds=2.5,
        socket_max_payload_bytes=6 * 1024,
        socket_max_packet_bytes=96 * 1024,
        socket_event_burst=9,
        socket_event_refill_per_second=2.5,
    )
    served = specs.served_specs(odd)
    texts = {"max_message_length": "321", "edit_window_text": "125-second", "rate_limit": "7"}
    for place in specs.LIMITS:
        parent, key = specs._parent(served.document(place.document), place.pointer)
        value = parent[key]
        expected = place.text.format(**specs.limit_values(odd))
        assert (value == int(expected)) if isinstance(value, int) else expected in value
    description = served.openapi["info"]["description"]
    assert "7 accepted\nmessages per user per 33 s, a 125-second edit window" in description
    assert "321 characters (code points)\nper message, 2 KiB per attachment" in description
    assert "at most 32 KiB and 50 header lines" in description
    assert all(text in served.as_yaml("openapi.yaml").decode() for text in texts.values())
    metadata = served.openapi["components"]["schemas"]["Metadata"]["description"]
    assert "at most 4 KiB as compact JSON, at most 5 levels deep" in metadata
    sockets = served.asyncapi["info"]["description"]
    assert "a payload over 6 KiB" in sockets and "at most 96 KiB; a larger one" in sockets
    assert "a burst of 9 events\n(refilled at 2.5 per second" in sockets
    assert "within 2.5 s of the Engine.IO handshake" in sockets
    assert "at most 32 KiB and 50 header lines" in sockets


def test_a_row_that_no_longer_matches_its_document_is_reported() -> None:
    place = specs.Place(specs.OPENAPI, "/info/description", "at most {rate_limit} pigeons")
    document = file_document("openapi.yaml")
    values = specs.limit_values(Settings())
    with pytest.raises(specs.SpecDrift, match="exactly once"):
        specs.substitute(document, place, values, values)
    missing = specs.Place(specs.OPENAPI, "/components/schemas/Nope/maxLength", "{rate_limit}")
    with pytest.raises(specs.SpecDrift, match="not in the document"):
        specs.substitute(document, missing, values, values)


@pytest.mark.parametrize(
    ("size", "text"), [(10 * 1024 * 1024, "10 MiB"), (512 * 1024, "512 KiB"), (1000, "1000 bytes")]
)
def test_sizes_read_as_written(size: int, text: str) -> None:
    assert specs.size_text(size) == text


async def served(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    as_yaml = yaml.safe_load((await client.get("/openapi.yaml")).text)
    as_json = (await client.get("/openapi.json")).json()
    return as_yaml, as_json


@pytest.mark.parametrize("path", ["/openapi.yaml", "/openapi.json"])
async def test_served_openapi_names_a_server(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    document = r.json() if path.endswith(".json") else yaml.safe_load(r.text)
    assert document["servers"] and all(server["url"] for server in document["servers"])
    assert document["servers"][0]["url"] == "/"


class TestLoweredLimit:
    @pytest.fixture(scope="class")
    @classmethod
    def app(cls) -> ChatApp:
        return create_app(Settings(validate_responses=True, max_message_length=200, rate_limit=5))

    async def test_spec_and_config_state_the_configured_limits(
        self, api: Api, client: httpx.AsyncClient
    ) -> None:
        user = await api.user()
        config = (await user.get("/api/chat/config")).json()["data"]
        for document in await served(client):
            assert at(document, *CONTENT) == config["maxMessageLength"] == 200
            assert at(document, *FILE_CAPTION)["maxLength"] == 200
            assert "at most 5 messages per 60 seconds" in str(document["components"]["responses"])
            assert "20 accepted" not in document["info"]["description"]

    async def test_validation_follows_the_served_limit(self, api: Api) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        assert (await a.send(chat_id, "x" * 200)).status_code == 201
        assert_problem(await a.send(chat_id, "x" * 201), 400, "VALIDATION_FAILED")


class TestRaisedLimit:
    """A setting above the file's bound must raise the served (and validated) bound too."""

    @pytest.fixture(scope="class")
    @classmethod
    def app(cls) -> ChatApp:
        return create_app(Settings(validate_responses=True, max_message_length=6000))

    async def test_longer_message_is_accepted_and_documented(
        self, api: Api, client: httpx.AsyncClient
    ) -> None:
        a, b = await api.user("a"), await api.user("b")
        chat_id = await a.direct_chat(b)
        assert (await a.send(chat_id, "x" * 5500)).status_code == 201
        assert_problem(await a.send(chat_id, "x" * 6001), 400, "VALIDATION_FAILED")
        for document in await served(client):
            assert at(document, *CONTENT) == 6000
