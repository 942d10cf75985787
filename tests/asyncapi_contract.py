"""Read the Socket.IO contract from asyncapi.yaml so tests can check what the server emits.

The AsyncAPI document is loaded with PyYAML and its operations are walked to find the event
names: `send` operations are events the server emits, `receive` operations are events it
accepts. Payload schemas are validated with jsonschema (draft 7, the dialect AsyncAPI
schemas extend), and every `$ref` is resolved through a `referencing` registry that loads
files on demand, so references into openapi.yaml resolve exactly as the spec tools do.
OpenAPI 3.0's `nullable: true` is honoured. Nothing here is a test; test modules import it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import yaml
from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import ValidationError, relevance
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parent.parent
ASYNCAPI_PATH = ROOT / "asyncapi.yaml"
OPENAPI_PATH = ROOT / "openapi.yaml"
ASYNCAPI_URI = ASYNCAPI_PATH.as_uri()
_MAX_REPORTED_ERRORS = 5


def load_yaml(path: Path) -> Any:
    """Parse one YAML file (safe loader)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def _retrieve(uri: str) -> Resource[Any]:
    """Load a local file named by a `file:` URI; nothing is fetched over the network."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise NoSuchResource(ref=uri)
    return DRAFT7.create_resource(load_yaml(Path(url2pathname(parts.path))))


REGISTRY: Registry[Any] = Registry(retrieve=_retrieve).with_resources(
    (path.as_uri(), DRAFT7.create_resource(load_yaml(path)))
    for path in (ASYNCAPI_PATH, OPENAPI_PATH)
)


def _type_allowing_null(
    validator: Validator, types: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """The `type` keyword, except that OpenAPI's `nullable: true` also admits null."""
    if instance is None and schema.get("nullable") is True:
        return
    yield from Draft7Validator.VALIDATORS["type"](validator, types, instance, schema)


_ContractValidator = validators.extend(Draft7Validator, {"type": _type_allowing_null})


@dataclass(frozen=True)
class _Event:
    """One Socket.IO event: its name, who emits it, and the URIs of its message and payload."""

    name: str
    action: str
    message_uri: str
    payload_uri: str


def _follow(uri: str) -> tuple[str, Any]:
    """Resolve `uri` and every `$ref` it leads to; return the final URI and its contents."""
    resolver = REGISTRY.resolver()
    contents = resolver.lookup(uri).contents
    while isinstance(contents, Mapping) and "$ref" in contents:
        uri = urljoin(uri, contents["$ref"])
        contents = resolver.lookup(uri).contents
    return uri, contents


def _payload_uri(message_uri: str, message: Mapping[str, Any]) -> str:
    """The URI of a message's payload schema (inside a multi-format schema if there is one)."""
    payload = message.get("payload")
    if payload is None:
        raise AssertionError(f"asyncapi.yaml: message {message_uri} has no payload")
    suffix = "/payload/schema" if isinstance(payload, Mapping) and "schemaFormat" in payload else ""
    return message_uri + (suffix or "/payload")


def _operation_events(operation_id: str, operation: Mapping[str, Any]) -> Iterator[_Event]:
    """The events named by one operation's messages."""
    base = f"{ASYNCAPI_URI}#/operations/{operation_id}"
    for reference in operation.get("messages", []):
        message_uri, message = _follow(urljoin(base, reference["$ref"]))
        name = message.get("name")
        if not isinstance(name, str):
            raise AssertionError(f"asyncapi.yaml: message {message_uri} has no event name")
        payload_uri = _payload_uri(message_uri, message)
        yield _Event(name, operation["action"], message_uri, payload_uri)


def _catalogue(action: str) -> dict[str, _Event]:
    """Every event of one direction, by name; one name must mean one payload schema."""
    events: dict[str, _Event] = {}
    for operation_id, operation in load_asyncapi()["operations"].items():
        if operation["action"] != action:
            continue
        for event in _operation_events(operation_id, operation):
            known = events.setdefault(event.name, event)
            if known.payload_uri != event.payload_uri:
                raise AssertionError(f"asyncapi.yaml: event {event.name!r} has two payloads")
    return events


@cache
def load_asyncapi() -> dict[str, Any]:
    """The AsyncAPI document as parsed YAML, with its `$ref`s left in place."""
    document = REGISTRY.contents(ASYNCAPI_URI)
    assert isinstance(document, dict)
    return document


_SERVER = _catalogue("send")
_CLIENT = _catalogue("receive")
SERVER_EVENTS: frozenset[str] = frozenset(_SERVER)
CLIENT_EVENTS: frozenset[str] = frozenset(_CLIENT)


@cache
def _validator(schema_uri: str) -> Validator:
    """A validator for the schema at `schema_uri`, with formats (date-time, ...) checked."""
    validator: Validator = _ContractValidator(
        {"$ref": schema_uri},
        registry=REGISTRY,
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    return validator


def _branch_rank(errors: list[ValidationError]) -> tuple[bool, int, int]:
    """Order the branches of a failed oneOf/anyOf: the likeliest intended branch first."""
    wrong_kind = any(
        error.validator in ("const", "enum") or (error.validator == "type" and not error.path)
        for error in errors
    )
    return wrong_kind, len(errors), -max(len(error.path) for error in errors)


def _closest(error: ValidationError) -> list[ValidationError]:
    """For a failed oneOf/anyOf, the errors of the alternative that came closest."""
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    return min(branches.values(), key=_branch_rank) if branches else []


def _describe(error: ValidationError) -> str:
    """One line per error; for a failed oneOf/anyOf, also why the closest alternative failed."""
    line = f"{error.json_path}: {error.message}"
    reasons = "; ".join(f"{sub.json_path}: {sub.message}" for sub in _closest(error))
    return f"{line} (closest alternative: {reasons})" if reasons else line


def _check(schema_uri: str, instance: object, what: str) -> None:
    """Raise AssertionError listing the most relevant ways `instance` breaks the schema."""
    errors = sorted(_validator(schema_uri).iter_errors(instance), key=relevance, reverse=True)
    if not errors:
        return
    shown = "\n  ".join(_describe(error) for error in errors[:_MAX_REPORTED_ERRORS])
    more = len(errors) - _MAX_REPORTED_ERRORS
    tail = f"\n  ... and {more} more" if more > 0 else ""
    raise AssertionError(f"{what} breaks asyncapi.yaml:\n  {shown}{tail}\npayload: {instance!r}")


def _event(catalogue: Mapping[str, _Event], name: str, direction: str) -> _Event:
    event = catalogue.get(name)
    if event is None:
        known = ", ".join(sorted(catalogue))
        raise AssertionError(f"{name!r} is not a documented {direction} event (known: {known})")
    return event


def schema_uri(name: str) -> str:
    """The URI of a schema named in asyncapi.yaml's components/schemas."""
    if name not in load_asyncapi()["components"]["schemas"]:
        raise AssertionError(f"asyncapi.yaml has no schema named {name!r}")
    return f"{ASYNCAPI_URI}#/components/schemas/{name}"


def validate_server_event(name: str, payload: object) -> None:
    """Check one server-to-client event against its documented payload schema."""
    event = _event(_SERVER, name, "server-to-client")
    _check(event.payload_uri, payload, f"server event {name!r}")


def validate_client_event(name: str, payload: object) -> None:
    """Check one client-to-server event against its documented payload schema."""
    event = _event(_CLIENT, name, "client-to-server")
    _check(event.payload_uri, payload, f"client event {name!r}")


def validate_ack(payload: object) -> None:
    """Check an acknowledgement: `{success: true}` or `{success: false, error: {...}}`."""
    _check(schema_uri("Ack"), payload, "acknowledgement")


def validate_schema(name: str, instance: object) -> None:
    """Check `instance` against a schema named in asyncapi.yaml's components/schemas."""
    _check(schema_uri(name), instance, f"schema {name!r} instance")


def _any_event(name: str) -> _Event:
    return _SERVER.get(name) or _event(_CLIENT, name, "documented")


def payload_schema(name: str) -> Mapping[str, Any]:
    """The payload schema of a documented event (either direction), its top `$ref`s followed."""
    schema: Mapping[str, Any] = _follow(_any_event(name).payload_uri)[1]
    return schema


def event_examples(name: str) -> list[Any]:
    """Deep copies of the example payloads of a documented event (either direction)."""
    message = _follow(_any_event(name).message_uri)[1]
    return [copy.deepcopy(example["payload"]) for example in message.get("examples", [])]


def _requires_seq(name: str) -> bool:
    required = payload_schema(name).get("required", [])
    return "seq" in required


SEQUENCED_EVENTS: frozenset[str] = frozenset(name for name in SERVER_EVENTS if _requires_seq(name))


def message_examples() -> Iterator[tuple[str, str, object]]:
    """Every message example as (message key, example name, payload)."""
    for key, message in load_asyncapi()["components"]["messages"].items():
        for index, example in enumerate(message.get("examples", [])):
            yield key, str(example.get("name", index)), example.get("payload")


def schema_examples() -> Iterator[tuple[str, int, object]]:
    """Every `examples` entry of asyncapi.yaml's own named schemas as (schema, index, value)."""
    for name, schema in load_asyncapi()["components"]["schemas"].items():
        for index, example in enumerate(schema.get("examples", [])):
            yield name, index, example


def message_payload_uri(key: str) -> str:
    """The URI of the payload schema of a message in components/messages."""
    uri = f"{ASYNCAPI_URI}#/components/messages/{key}"
    return _payload_uri(uri, load_asyncapi()["components"]["messages"][key])


def validate_message_payload(key: str, payload: object) -> None:
    """Check a payload against the schema of a message in components/messages."""
    _check(message_payload_uri(key), payload, f"message {key!r} payload")
