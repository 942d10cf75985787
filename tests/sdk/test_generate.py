"""tools/sdk/generate.py itself: what it counts as a warning, and that a generator which
warns about a spec fails its step (so test_sdk.py cannot pass on a spec that warns)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "sdk" / "generate.py"

# A response whose only media type openapi-python-client cannot parse: it warns.
WARNING_SPEC = """
openapi: 3.0.3
info: {title: warns, version: '1'}
paths:
  /things:
    get:
      operationId: list_things
      responses:
        '200':
          description: XML only
          content:
            application/xml:
              schema: {type: object, properties: {name: {type: string}}}
"""


def load_generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sdk_generate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


generate = load_generate()


@pytest.mark.parametrize(
    "line",
    [
        "Warning(s) encountered while generating. Client was generated, but pieces may be missing",
        " \u26a0  Unused component at #/components/schemas/Thing",
        " \u2718  Can't resolve $ref at #/paths/~1things",
        "DeprecationWarning: this option is deprecated",
        "Errors:",
    ],
)
def test_problem_lines_are_found(line: str) -> None:
    assert generate.problem_lines(f"Generating build/sdk/python\n{line}\n") == [line.strip()]


def test_benign_generator_output_is_not_a_warning() -> None:
    output = "\u2728 openapi-typescript 7.13.0\n\U0001f680 openapi.yaml \u2192 schema.ts [197ms]\n"
    assert generate.problem_lines(output) == []


def test_only_warn_and_error_log_lines_of_openapi_generator_count() -> None:
    output = "\n".join(
        [
            "[main] INFO  o.o.codegen.DefaultGenerator - writing file api.ts",
            "[main] INFO  o.o.codegen.TemplateManager - writing file /sdk/axios/docs/ErrorCode.md",
            "[main] WARN  o.o.codegen.DefaultCodegen - Unknown type found in the schema: made-up",
            "[main] ERROR o.o.codegen.DefaultGenerator - could not process model 'Thing'",
        ]
    )
    assert generate.generator_log_problems(output) == [
        "[main] WARN  o.o.codegen.DefaultCodegen - Unknown type found in the schema: made-up",
        "[main] ERROR o.o.codegen.DefaultGenerator - could not process model 'Thing'",
    ]


def test_validation_passes_only_with_its_all_clear() -> None:
    clear = "Validating spec (openapi.yaml)\nNo validation issues detected.\n"
    assert generate.validation_problems(clear) == []
    found = "Validating spec (openapi.yaml)\nWarnings: \n\t- Unused model: Thing\n"
    assert "- Unused model: Thing" in generate.validation_problems(found)


def test_a_generator_warning_about_the_spec_fails_the_run(tmp_path: Path) -> None:
    if importlib.util.find_spec("openapi_python_client") is None:
        if os.environ.get("REQUIRE_SDK"):
            pytest.fail("openapi-python-client is not installed (REQUIRE_SDK is set)")
        pytest.skip("openapi-python-client is not installed")
    spec = tmp_path / "warns.yaml"
    spec.write_text(WARNING_SPEC, encoding="utf-8")
    command = [sys.executable, str(SCRIPT), "--only", "python"]
    command += ["--spec", str(spec), "--out", str(tmp_path / "sdk")]

    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  openapi-python-client" in result.stdout
    assert "warning: Warning(s) encountered while generating" in result.stdout
    report = json.loads((tmp_path / "sdk" / "generate-report.json").read_text(encoding="utf-8"))
    assert report[0]["ok"] is False and report[0]["warnings"]
