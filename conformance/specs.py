"""The reference contracts, and checks of what a target answers against them.

The kit judges every target by the reference `openapi.yaml` and `asyncapi.yaml`, never by
what the target serves (a foreign server's own spec is exactly what is under test). An
installed kit reads the copies its wheel carries in `conformance/_specs/` (written by the
package build); a checkout reads the repository's files.

    Contract.load()                     both documents, their `$ref`s resolvable
    contract.operation(method, path)    the operationId and path template a request hits
    contract.response_problems(...)     how a REST answer breaks openapi.yaml
    contract.event_problems(name, data) how a Socket.IO event breaks asyncapi.yaml
    contract.ack_problems(data)         how an acknowledgement breaks it
    contract.passage(source)            the text of the spec place a rule comes from

Schemas are checked with jsonschema (draft 7, which AsyncAPI's schemas extend and which
reads OpenAPI 3.0's schema objects), with OpenAPI's `nullable` honoured and `date-time`
checked as RFC 3339.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml
from jsonschema import Draft7Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, relevance
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

PACKAGE = Path(__file__).resolve().parent
SHIPPED = PACKAGE / "_specs"
CHECKOUT = PACKAGE.parent
SPEC_NAMES = ("openapi.yaml", "asyncapi.yaml")
# Both documents live under one made-up base, so asyncapi.yaml's `./openapi.yaml#/...`
# resolves to the other document and nothing is ever fetched.
BASE = "https://contract.invalid/"
OPENAPI_URI = BASE + "openapi.yaml"
ASYNCAPI_URI = BASE + "asyncapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
JSON_TYPES = ("application/json", "application/problem+json")
MAX_PROBLEMS = 5
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)


def spec_dir() -> Path:
    """Where the reference contracts are: the wheel's copies, else the checkout's."""
    return SHIPPED if (SHIPPED / "openapi.yaml").is_file() else CHECKOUT


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader, in C if it can


formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


def _type_allowing_null(
    validator: Validator, types: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """`type`, except that OpenAPI's `nullable: true` also admits null."""
    if instance is None and schema.get("nullable") is True:
        return
    yield from Draft7Validator.VALIDATORS["type"](validator, types, instance, schema)


ContractValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft7Validator, {"type": _type_allowing_null}
)


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: a document, a JSON pointer into it, and (for a long text)
    words of the paragraph meant."""

    document: str
    pointer: str
    paragraph: str = ""

    @property
    def reference(self) -> str:
        return f"{self.document}#{self.pointer}"


def openapi(pointer: str, paragraph: str = "") -> Source:
    return Source("openapi.yaml", pointer, paragraph)


def asyncapi(pointer: str, paragraph: str = "") -> Source:
    return Source("asyncapi.yaml", pointer, paragraph)


def operation(method: str, path: str) -> Source:
    """The place in openapi.yaml of one operation."""
    return openapi(operation_pointer(path, method))


def escape(segment: str) -> str:
    """A path segment as a JSON pointer writes it."""
    return segment.replace("~", "~0").replace("/", "~1")


def operation_pointer(path: str, method: str) -> str:
    return f"/paths/{escape(path)}/{method}"


@dataclass(frozen=True)
class Route:
    operation_id: str
    template: str
    method: str
    pattern: re.Pattern[str]
    literal_segments: int


def _route(template: str, method: str, operation_id: str) -> Route:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    literal = sum(1 for s in template.split("/") if s and not s.startswith("{"))
    return Route(operation_id, template, method, re.compile(f"^{regex}$"), literal)


class Contract:
    """Both documents, with validators over them."""

    def __init__(self, openapi_doc: dict[str, Any], asyncapi_doc: dict[str, Any]) -> None:
        self.openapi = openapi_doc
        self.asyncapi = asyncapi_doc
        self.registry: Registry[Any] = Registry().with_resources(
            [
                (OPENAPI_URI, DRAFT7.create_resource(openapi_doc)),
                (ASYNCAPI_URI, DRAFT7.create_resource(asyncapi_doc)),
            ]
        )
        self.routes = sorted(
            (
                _route(template, method, op["operationId"])
                for template, item in openapi_doc["paths"].items()
                for method, op in item.items()
                if method in HTTP_METHODS
            ),
            key=lambda r: -r.literal_segments,
        )
        self.server_events = self._event_payloads("send")
        self.client_events = self._event_payloads("receive")

    @classmethod
    def load(cls, folder: Path | None = None) -> Contract:
        folder = folder or spec_dir()
        return cls(load_yaml(folder / "openapi.yaml"), load_yaml(folder / "asyncapi.yaml"))

    # --- documents ---------------------------------------------------------------------

    def follow(self, uri: str) -> tuple[str, Any]:
        """(final URI, contents) at `uri`, following `$ref`s until a value that is not one."""
        resolver = self.registry.resolver()
        contents = resolver.lookup(uri).contents
        while isinstance(contents, Mapping) and "$ref" in contents:
            uri = urljoin(uri, contents["$ref"])
            contents = resolver.lookup(uri).contents
        return uri, contents

    def resolve(self, uri: str) -> Any:
        return self.follow(uri)[1]

    def passage(self, source: Source) -> str:
        """The words of the spec at `source`: its summary and description (only the
        paragraph holding `source.paragraph` when one is named)."""
        uri = (OPENAPI_URI if source.document == "openapi.yaml" else ASYNCAPI_URI) + "#"
        found = self.resolve(uri + source.pointer)
        if not isinstance(found, Mapping):
            return str(found).strip()
        text = str(found.get("description") or "").strip()
        if source.paragraph:
            paragraphs = [p for p in text.split("\n\n") if source.paragraph in p]
            if not paragraphs:
                raise LookupError(f"{source.reference} has no paragraph with {source.paragraph!r}")
            return " ".join(paragraphs[0].split())
        summary = str(found.get("summary") or "").strip()
        joined = f"{summary}. {text}" if summary and summary not in text else text or summary
        return " ".join(joined.split())

    def operations(self, tag_other_than: str = "dev") -> list[tuple[str, str, str]]:
        """(operationId, method, path template) of every operation outside `tag_other_than`."""
        found = []
        for template, item in self.openapi["paths"].items():
            for method, op in item.items():
                if method in HTTP_METHODS and tag_other_than not in op.get("tags", []):
                    found.append((op["operationId"], method, template))
        return found

    def operation(self, method: str, path: str) -> Route | None:
        """The operation a request for `path` (no query, no base path) reaches."""
        method = method.lower()
        for route in self.routes:
            if route.method == method and route.pattern.match(path):
                return route
        return None

    # --- REST -----------------------------------------------------------------------------

    def response_problems(
        self,
        route: Route,
        status: int,
        content_type: str | None,
        headers: Mapping[str, str],
        body: Any,
        has_body: bool,
    ) -> list[str]:
        """How one answer breaks the operation's documented responses (empty: it does not)."""
        base = f"{OPENAPI_URI}#{operation_pointer(route.template, route.method)}/responses"
        responses = self.resolve(base)
        key = next(
            (k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None
        )
        name = f"{route.method.upper()} {route.template} ({route.operation_id})"
        if key is None:
            documented = ", ".join(sorted(responses))
            return [f"{name} answered {status}, which it does not document ({documented})"]
        response_uri, response = self.follow(f"{base}/{escape(key)}")
        problems = self._header_problems(response_uri, response, headers, name, status)
        content = response.get("content") or {}
        if not content:
            return problems
        media = (content_type or "").split(";")[0].strip().lower()
        if not has_body and not media:
            return [*problems, f"{name} answered {status} with no body; it documents one"]
        if media not in content:
            listed = ", ".join(content)
            return [*problems, f"{name} answered {status} as {media!r}, not {listed}"]
        if media in JSON_TYPES:
            schema_uri = f"{response_uri}/content/{escape(media)}/schema"
            problems += self.schema_problems(schema_uri, body, f"{name} {status} body")
        return problems

    def _header_problems(
        self,
        response_uri: str,
        response: Mapping[str, Any],
        headers: Mapping[str, str],
        name: str,
        status: int,
    ) -> list[str]:
        problems = []
        for header in response.get("headers") or {}:
            value = headers.get(header)
            if value is None:
                continue
            header_uri, _ = self.follow(f"{response_uri}/headers/{escape(header)}")
            schema_uri = f"{header_uri}/schema"
            schema = self.resolve(schema_uri)
            parsed: Any = value
            if schema.get("type") == "integer":
                try:
                    parsed = int(value)
                except ValueError:
                    problems.append(
                        f"{name} {status}: header {header} is {value!r}, not an integer"
                    )
                    continue
            problems += self.schema_problems(schema_uri, parsed, f"{name} {status} {header}")
        return problems

    # --- Socket.IO ------------------------------------------------------------------------

    def _event_payloads(self, action: str) -> dict[str, str]:
        """Event name -> the URI of its payload schema, for one direction."""
        events: dict[str, str] = {}
        for op_id, operation in self.asyncapi["operations"].items():
            if operation["action"] != action:
                continue
            base = f"{ASYNCAPI_URI}#/operations/{op_id}"
            for reference in operation.get("messages", []):
                message_uri, message = self.follow(urljoin(base, reference["$ref"]))
                events[message["name"]] = message_uri + "/payload"
        return events

    def event_problems(self, name: str, payload: Any) -> list[str]:
        uri = self.server_events.get(name)
        if uri is None:
            known = ", ".join(sorted(self.server_events))
            return [f"{name!r} is not an event the server sends (asyncapi.yaml: {known})"]
        return self.schema_problems(uri, payload, f"event {name!r}")

    def ack_problems(self, payload: Any) -> list[str]:
        return self.schema_problems(f"{ASYNCAPI_URI}#/components/schemas/Ack", payload, "ack")

    # --- schemas --------------------------------------------------------------------------

    def schema_problems(self, schema_uri: str, instance: Any, what: str) -> list[str]:
        validator = _validator(self, schema_uri)
        errors = sorted(validator.iter_errors(instance), key=relevance, reverse=True)
        lines = [f"{what}: {error.json_path}: {error.message}" for error in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            lines.append(f"{what}: ... and {len(errors) - MAX_PROBLEMS} more")
        return lines


@cache
def _validator(contract: Contract, schema_uri: str) -> Validator:
    validator: Validator = ContractValidator(
        {"$ref": schema_uri}, registry=contract.registry, format_checker=formats
    )
    return validator
