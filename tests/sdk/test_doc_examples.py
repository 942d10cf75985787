"""tools/sdk/doc_examples.py itself (it finds every marked example, and fails when the
docs lose one or mark one it does not run), and the install commands the docs show:
every npm package pinned at the version package.json locks and the sdk env runs, every
Python generator at the version tox.ini pins (an unpinned `npm i openapi-typescript
typescript` brings TypeScript 7, which crashes openapi-typescript 7)."""

from __future__ import annotations

import configparser
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_doc_examples() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "doc_examples", ROOT / "tools/sdk/doc_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


doc_examples = load_doc_examples()
DOC = doc_examples.DOC.read_text(encoding="utf-8")
README = doc_examples.README.read_text(encoding="utf-8")


def test_every_marked_example_becomes_a_program(tmp_path: Path) -> None:
    programs = doc_examples.write(tmp_path)
    marked = doc_examples.examples(DOC)
    assert set(programs) == set(marked) - {"users"}
    assert len(programs) == 5
    for name, program in programs.items():
        text = program.read_text(encoding="utf-8")
        if program.suffix == ".py":
            assert marked[name] in text, name
            continue
        # a TypeScript example's imports go on top, the rest into a function
        imports, statements = doc_examples.split_imports(marked[name])
        assert imports in text and doc_examples.indented(statements) in text, name


def test_an_example_the_docs_lost_is_an_error(tmp_path: Path) -> None:
    without = DOC.replace("<!-- sdk-example: orval -->\n", "")
    with pytest.raises(doc_examples.ExampleMissing, match="sdk-example: orval"):
        doc_examples.write(tmp_path, doc=without)


def test_a_marked_example_no_program_runs_is_an_error(tmp_path: Path) -> None:
    extra = DOC + "\n<!-- sdk-example: curl -->\n```sh\ncurl /api/chat\n```\n"
    with pytest.raises(doc_examples.ExampleMissing, match="no program runs: curl"):
        doc_examples.write(tmp_path, doc=extra)


def test_the_readme_body_is_the_json_of_its_create_chat_call() -> None:
    body = json.loads(doc_examples.readme_body(README))
    assert set(body) == {"participantIds"}
    with pytest.raises(doc_examples.ExampleMissing):
        doc_examples.readme_body(README.replace("/api/chat\n", "/api/chats\n"))


def test_imports_of_several_lines_move_out_of_the_example() -> None:
    code = "import {\n  a,\n  b,\n} from './x';\nimport c from 'c';\n\nawait a(b, c);\n"
    imports, rest = doc_examples.split_imports(code)
    assert imports == "import {\n  a,\n  b,\n} from './x';\nimport c from 'c';\n"
    assert rest == "\nawait a(b, c);\n"


def shown_text() -> dict[str, str]:
    """Every file a reader follows commands from: README, docs, notebooks."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    shown = {str(f.relative_to(ROOT)): f.read_text(encoding="utf-8") for f in files}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        shown[str(notebook.relative_to(ROOT))] = "\n".join("".join(c["source"]) for c in cells)
    return shown


NPM_INSTALL = re.compile(r"\bnpm (?:i|install|add)\b(?P<args>[^&|;\n`]*)")
NPX = re.compile(r"\bnpx (?P<package>[^\s`]+)")
PIP_INSTALL = re.compile(r"\bpip install (?P<args>[^&|;\n`]*)")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(?P<version>\S+)$")


def split_package(spec: str) -> tuple[str, str]:
    """`name@version` (scoped names too) -> (name, version); no version -> ''."""
    name, at, version = spec[1:].rpartition("@") if spec.startswith("@") else spec.rpartition("@")
    if not at:
        return spec, ""
    return ("@" + name if spec.startswith("@") else name), version


def npm_problems(text: str, locked: dict[str, str]) -> list[str]:
    """Packages an npm command installs at another version than `locked`, or unpinned."""
    problems, pinned = [], set()
    for match in NPM_INSTALL.finditer(text):
        for spec in (arg for arg in match["args"].split() if not arg.startswith("-")):
            name, version = split_package(spec)
            pinned.add(name)
            if locked.get(name) != version:
                problems.append(f"npm i {spec} (locked: {locked.get(name, 'not a dependency')})")
    for match in NPX.finditer(text):
        name, version = split_package(match["package"])
        if version != locked.get(name) and not (not version and name in pinned):
            problems.append(f"npx {match['package']} (locked: {locked.get(name)})")
    return problems


def sdk_pins() -> dict[str, str]:
    """name -> version of the packages tox.ini's sdk env pins."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini", encoding="utf-8")
    found = (PIN.match(line.strip()) for line in config["testenv:sdk"]["deps"].splitlines())
    return {pin["name"]: pin["version"] for pin in found if pin}


def test_every_npm_package_the_docs_install_is_the_locked_version() -> None:
    locked = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    problems = {name: npm_problems(text, locked) for name, text in shown_text().items()}
    assert {name: found for name, found in problems.items() if found} == {}


def test_an_unpinned_or_other_version_is_found() -> None:
    locked = {"openapi-typescript": "7.13.0", "typescript": "5.9.3", "@types/node": "20.1.0"}
    text = "npm i -D openapi-typescript typescript@7.0.2 @types/node@20.1.0\nnpx orval --x\n"
    assert npm_problems(text, locked) == [
        "npm i openapi-typescript (locked: 7.13.0)",
        "npm i typescript@7.0.2 (locked: 5.9.3)",
        "npx orval (locked: None)",
    ]
    assert (
        npm_problems("npm i -D openapi-typescript@7.13.0\nnpx openapi-typescript a", locked) == []
    )


def test_every_generator_the_docs_pip_install_is_the_version_tox_pins() -> None:
    pins = sdk_pins()
    assert {"openapi-python-client", "openapi-generator-cli"} <= set(pins)
    installed = [
        (where, pin["name"], pin["version"])
        for where, text in shown_text().items()
        for command in PIP_INSTALL.finditer(text)
        for pin in map(PIN.match, command["args"].replace('"', "").split())
        if pin and pin["name"] in pins
    ]
    names = {name for _, name, _ in installed}
    assert names >= {"openapi-python-client", "openapi-generator-cli"}, installed
    assert [pin for pin in installed if pin[2] != pins[pin[1]]] == []
