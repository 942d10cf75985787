"""The spec and the code name the same operations, both ways (Zulip's idea).

Every operationId of openapi.yaml resolves to a handler in `impl.api`, and every public
handler in `impl.api` is some operation's. Response validation is on in every API test
(the `settings` fixture), so no handler can answer what the spec does not describe.
Request bodies are plain objects without defaults, so that generated clients build them
as written.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from typing import Any

import pytest

import impl.api
from conftest import Api, assert_problem
from impl.app import load_spec

METHODS = {"get", "put", "post", "patch", "delete"}


def operations() -> dict[str, str]:
    """operationId -> dotted handler path."""
    found = {}
    for item in load_spec()["paths"].values():
        for method, op in item.items():
            if method in METHODS:
                found[op["operationId"]] = (
                    f"{op['x-openapi-router-controller']}.{op['operationId']}"
                )
    return found


def handlers() -> set[str]:
    names = set()
    for module_info in pkgutil.iter_modules(impl.api.__path__):
        module = importlib.import_module(f"impl.api.{module_info.name}")
        for name, fn in vars(module).items():
            if not isinstance(fn, types.FunctionType) or not inspect.iscoroutinefunction(fn):
                continue
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                names.add(f"{module.__name__}.{name}")
    return names


def test_every_documented_operation_has_a_handler() -> None:
    missing = sorted(path for path in operations().values() if path not in handlers())
    assert missing == []


def test_every_handler_is_a_documented_operation() -> None:
    undocumented = sorted(handlers() - set(operations().values()))
    assert undocumented == []


def test_operation_ids_are_unique_snake_case_verb_noun() -> None:
    ids = []
    for item in load_spec()["paths"].values():
        ids += [op["operationId"] for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids))
    assert all(i.islower() and "_" in i and i.replace("_", "").isalpha() for i in ids)


def test_every_operation_has_an_example_and_documents_its_errors() -> None:
    spec = load_spec()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            assert body is None or "example" in body, f"{where} has no request example"
            statuses = set(op["responses"])
            assert any(s.startswith("2") for s in statuses), where
            secured = op.get("security", spec["security"]) != []
            if secured:
                assert "401" in statuses, f"{where} does not document 401"
            if "{id}" in path:
                assert {"400", "404"} <= statuses, f"{where} does not document 400/404"


# A `default` in a request schema makes the property required in openapi-typescript's
# types (its defaultNonNullable), and a oneOf/anyOf body becomes a wrapper class in
# openapi-generator's python client (`Wrapper(field=...)` sends null): request bodies are
# plain objects, and the server applies what a default would say.
SCHEMA_LISTS = ("allOf", "oneOf", "anyOf")
SCHEMA_VALUES = ("items", "additionalProperties", "not")


def request_schema_findings(spec: dict[str, Any]) -> list[str]:
    """Where a request body schema has a `default`, a `oneOf` or an `anyOf`."""
    schemas = spec.get("components", {}).get("schemas", {})
    found: list[str] = []

    def walk(schema: Any, where: str, seen: frozenset[str]) -> None:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref", "")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], name, seen | {name})
            return
        found.extend(f"{where}: {key}" for key in ("default", "oneOf", "anyOf") if key in schema)
        for key, value in schema.get("properties", {}).items():
            walk(value, f"{where}.{key}", seen)
        for key in SCHEMA_VALUES:
            walk(schema.get(key), f"{where}.{key}", seen)
        for key in SCHEMA_LISTS:
            for i, item in enumerate(schema.get(key, [])):
                walk(item, f"{where}.{key}[{i}]", seen)

    for path, item in spec["paths"].items():
        for method, op in item.items():
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                walk(content.get("schema"), f"{method.upper()} {path} {media}", frozenset())
    return found


def test_request_bodies_are_plain_objects_without_defaults() -> None:
    assert request_schema_findings(load_spec()) == []


def test_a_default_or_a_choice_in_a_request_body_is_found() -> None:
    spec = {
        "paths": {
            "/things": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/c/s/Thing"}}}
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "properties": {
                        "kind": {"type": "string", "default": "a"},
                        "tags": {"type": "array", "items": {"$ref": "#/c/s/Tag"}},
                    }
                },
                "Tag": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            }
        },
    }
    assert request_schema_findings(spec) == ["Thing.kind: default", "Tag: oneOf"]


@pytest.mark.parametrize("path", ["/api/chat/", "/api/chat/config/", "/api/dev/users/"])
async def test_a_path_with_a_trailing_slash_is_404_not_a_redirect(api: Api, path: str) -> None:
    user = await api.user()
    r = await user.get(path)
    assert_problem(r, 404, "NOT_FOUND")
    assert "location" not in r.headers
