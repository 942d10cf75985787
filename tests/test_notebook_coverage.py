"""The walkthrough notebooks show every operation of openapi.yaml and every event of
asyncapi.yaml, and are committed executed, with outputs that carry nothing of the machine
or the run that produced them.

The mapping is by name. `notebooks/chatapi/client.py` has one method per `operationId`, named
exactly like it (the dev operations on `ChatAPI`, the others on `User`); a notebook shows
an operation when one of its code cells calls that method. A notebook shows a Socket.IO
event when a code cell names it as a string literal: client events are emitted with
`live.call("join-chat-room", ...)`, server events awaited with `live.wait("new-message")`.

Running the notebooks is `tox -e notebooks` (`pytest --nbmake notebooks/`); this module
only reads them, so it is fast and runs with the other tests.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
HELPER = NOTEBOOK_DIR / "chatapi" / "client.py"

FLOWS = [
    "01-getting-started",
    "02-chats",
    "03-messaging",
    "04-real-time",
    "05-support-and-purchase-requests",
    "06-attachments-and-notifications",
    "07-limits-and-errors",
    "08-contract-testing",
    "09-conformance",
    "10-frontend-bridge",
]

# Operations (by operationId) and events (by name) that no walkthrough needs to show,
# each with the reason. Every one of them is currently shown, so the list is empty; an
# entry here must name something the specs have and no notebook shows.
NOT_IN_A_WALKTHROUGH: dict[str, str] = {}


def load_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return data


def operation_ids() -> list[str]:
    paths = load_yaml("openapi.yaml")["paths"]
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sorted(
        op["operationId"]
        for item in paths.values()
        for method, op in item.items()
        if method in methods
    )


def event_names() -> list[str]:
    """The `name` of every message of asyncapi.yaml (the acknowledgement has none)."""
    messages = load_yaml("asyncapi.yaml")["components"]["messages"]
    return sorted({m["name"] for m in messages.values() if "name" in m})


def notebooks() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    }


def cells(nb: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c["cell_type"] == kind]


def source(cell: dict[str, Any]) -> str:
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def all_code() -> str:
    return "\n".join(source(c) for nb in notebooks().values() for c in cells(nb, "code"))


def shows_operation(code: str, operation_id: str) -> bool:
    return re.search(rf"\.{re.escape(operation_id)}\(", code) is not None


def shows_event(code: str, name: str) -> bool:
    return re.search(rf"""["']{re.escape(name)}["']""", code) is not None


def helper_methods() -> set[str]:
    tree = ast.parse(HELPER.read_text(encoding="utf-8"))
    return {
        node.name
        for cls in tree.body
        if isinstance(cls, ast.ClassDef) and cls.name in {"ChatAPI", "User"}
        for node in cls.body
        if isinstance(node, ast.AsyncFunctionDef)
    }


def test_one_notebook_per_flow() -> None:
    assert sorted(notebooks()) == FLOWS


@pytest.mark.parametrize("operation_id", operation_ids())
def test_the_helper_has_a_method_per_operation(operation_id: str) -> None:
    assert operation_id in helper_methods(), f"notebooks/chatapi/client.py has no {operation_id}()"


@pytest.mark.parametrize("operation_id", operation_ids())
def test_every_operation_is_shown(operation_id: str) -> None:
    if operation_id in NOT_IN_A_WALKTHROUGH:
        pytest.skip(NOT_IN_A_WALKTHROUGH[operation_id])
    assert shows_operation(all_code(), operation_id), (
        f"no notebook calls .{operation_id}(...): show it in the walkthrough of its flow, "
        "or list it in NOT_IN_A_WALKTHROUGH with the reason"
    )


@pytest.mark.parametrize("name", event_names())
def test_every_event_is_shown(name: str) -> None:
    if name in NOT_IN_A_WALKTHROUGH:
        pytest.skip(NOT_IN_A_WALKTHROUGH[name])
    assert shows_event(all_code(), name), (
        f"no notebook emits or awaits {name!r}: show it in 04-real-time, "
        "or list it in NOT_IN_A_WALKTHROUGH with the reason"
    )


def test_exemptions_are_current() -> None:
    code = all_code()
    known = set(operation_ids()) | set(event_names())
    for name in NOT_IN_A_WALKTHROUGH:
        assert name in known, f"{name} is in neither spec any more"
        assert not shows_operation(code, name) and not shows_event(code, name), (
            f"{name} is shown after all: drop it from NOT_IN_A_WALKTHROUGH"
        )


@pytest.mark.parametrize("flow", FLOWS)
def test_each_flow_has_a_sequence_diagram(flow: str) -> None:
    markdown = "\n".join(source(c) for c in cells(notebooks()[flow], "markdown"))
    assert "```mermaid" in markdown and "sequenceDiagram" in markdown


@pytest.mark.parametrize("flow", FLOWS)
def test_committed_executed_in_order_without_errors(flow: str) -> None:
    code_cells = cells(notebooks()[flow], "code")
    counts = [c["execution_count"] for c in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), (
        f"{flow} is not committed as one clean run: python tools/notebooks.py run"
    )
    for cell in code_cells:
        assert all(o["output_type"] != "error" for o in cell["outputs"]), source(cell)[:200]
        assert "execution" not in cell.get("metadata", {}), "timings belong to no commit"
    assert any(cell["outputs"] for cell in code_cells), f"{flow} has no output at all"


# What would change the files on every run or give away the machine that ran them.
MACHINE_SPECIFIC = {
    "an ObjectId": re.compile(r"\b[0-9a-f]{24}\b"),
    "a JWT": re.compile(r"eyJ[\w-]+\.[\w-]+"),
    "a timestamp": re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}"),
    "a local address": re.compile(r"(127\.0\.0\.1|localhost):\d+"),
    "a local path": re.compile(r"(/tmp/|/home/|/root/|/work/|/Users/|[A-Z]:\\\\)"),
    "an object address": re.compile(r" at 0x[0-9a-f]+"),
}


def output_texts(nb: dict[str, Any]) -> list[str]:
    texts = []
    for cell in cells(nb, "code"):
        for output in cell["outputs"]:
            if output["output_type"] == "stream":
                texts.append(source({"source": output["text"]}))
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") or mime == "image/svg+xml":
                    texts.append(source({"source": value}))
    return texts


@pytest.mark.parametrize("flow", FLOWS)
def test_outputs_are_reproducible(flow: str) -> None:
    for text in output_texts(notebooks()[flow]):
        for what, pattern in MACHINE_SPECIFIC.items():
            found = pattern.search(text)
            assert found is None, f"{flow} prints {what}: {found.group(0)!r}"
