"""The spec and the code name the same operations, both ways (Zulip's idea).

Every operationId of openapi.yaml resolves to a handler in `impl.api`, and every public
handler in `impl.api` is some operation's. Response validation is on in every API test
(the `settings` fixture), so no handler can answer what the spec does not describe.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import impl.api
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
