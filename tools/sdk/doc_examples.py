"""The client examples of docs/contract-testing.md and the README's quick-start body,
written out as programs that `tox -e sdk` compiles and runs against a live server.

The docs mark each example with `<!-- sdk-example: NAME -->` on the line before its
fenced block. A program is the `users` example (it makes `API`, `alice` and `bob`; the
Python examples get `API`, `alice_token` and `bob_id` from doc_checks.py instead), then
one client's example exactly as written, then checks: over plain HTTP, that the example
opened the direct chat with Bob and sent a message in it; and, through the same client,
that the README's `POST /api/chat` body, typed as that client's request, opens the chat
with the demo user it names (so the server runs with `--demo`).

The TypeScript programs import the clients as the docs do (`./api/schema`,
`./api/axios`, `./api/orval/api`, `./api/orval_fetch`), through small modules here that
re-export build/sdk/; tools/sdk/tsconfig.json compiles them with the flows (tsc
--strict), and mypy --strict checks the openapi-python-client program. So an example
that stops compiling or working fails the sdk env, and no copy of it can drift.

    python tools/sdk/doc_examples.py [--out build/sdk/doc-examples]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "contract-testing.md"
README = ROOT / "README.md"
DEFAULT_OUT = ROOT / "build" / "sdk" / "doc-examples"

MARKER = re.compile(
    r"^<!-- sdk-example: (?P<name>[a-z0-9-]+) -->\n```\w+\n(?P<code>.*?)^```", re.M | re.S
)
TS_IMPORT = re.compile(r"^import\b[^;]*;[^\S\n]*\n?", re.M)
README_BODY = re.compile(r"-d '(?P<body>[^']*)' \S+/api/chat$", re.M)
HEADER = "Written by tools/sdk/doc_examples.py from docs/contract-testing.md: do not edit."

# What the docs' import paths lead to, from build/sdk/doc-examples/.
TS_CLIENT_MODULES = {
    "api/schema.ts": "export type * from '../../typescript/schema';\n",
    "api/axios.ts": "export * from '../../axios';\n",
    "api/orval/api.ts": "export * from '../../../orval/api';\n",
    "api/orval_fetch.ts": "export * from '../../../../tools/sdk/orval_fetch';\n",
}
TS_HARNESS_IMPORTS = """\
import { checkOpenedAndSent, checkReadmeChat } from '../../../tools/sdk/doc_checks';
import { runFlow } from '../../../tools/sdk/flow_support';
"""
TS_OPENED_AND_SENT = "await checkOpenedAndSent(API, alice.token, alice.user._id, bob.user._id);"
README_EXPECTED = "[alice.user._id, ...readmeBody.participantIds]"

# After each TypeScript example: its imports, then its statements (README_BODY filled in).
TS_README_SENDS = {
    "openapi-fetch": (
        """\
import createReadmeClient from 'openapi-fetch';
import type { components as ReadmeTypes, paths as ReadmePaths } from '../typescript/schema';
""",
        f"""\
const readmeBody: ReadmeTypes['schemas']['CreateChatRequest'] = README_BODY;
const readmeAuth = {{ Authorization: `Bearer ${{alice.token}}` }};
const readmeClient = createReadmeClient<ReadmePaths>({{ baseUrl: API, headers: readmeAuth }});
const readme = await readmeClient.POST('/api/chat', {{ body: readmeBody }});
const readmeChat = readme.data?.data.chat;
checkReadmeChat(readme.response.status, readmeChat?.participants, {README_EXPECTED});
""",
    ),
    "typescript-axios": (
        """\
import {
  ChatsApi as ReadmeChatsApi,
  Configuration as ReadmeConfiguration,
  type CreateChatRequest as ReadmeRequest,
} from '../axios';
""",
        f"""\
const readmeBody: ReadmeRequest = README_BODY;
const readmeAuth = new ReadmeConfiguration({{ basePath: API, accessToken: alice.token }});
const readme = await new ReadmeChatsApi(readmeAuth).createChat({{ createChatRequest: readmeBody }});
checkReadmeChat(readme.status, readme.data.data.chat.participants, {README_EXPECTED});
""",
    ),
    "orval": (
        """\
import {
  type CreateChatRequest as ReadmeRequest,
  createChat as openReadmeChat,
} from '../orval/api';
import { setChatApiBaseUrl as setReadmeBaseUrl } from '../../../tools/sdk/orval_fetch';
""",
        f"""\
const readmeBody: ReadmeRequest = README_BODY;
setReadmeBaseUrl(API);
const readmeAuth = {{ headers: {{ Authorization: `Bearer ${{alice.token}}` }} }};
const readme = await openReadmeChat(readmeBody, readmeAuth);
const readmeChat = readme.status === 201 ? readme.data.data.chat : undefined;
checkReadmeChat(readme.status, readmeChat?.participants, {README_EXPECTED});
""",
    ),
}

PY_PRELUDE = """\
import json
from typing import Any

import doc_checks

API = doc_checks.base_url()
alice_token, alice_id, bob_id = doc_checks.two_users(API)
"""
PY_CHECKS = """\
doc_checks.check_opened_and_sent(API, alice_token, alice_id, bob_id)
README_BODY: dict[str, Any] = json.loads(README_JSON)
readme_expected = [alice_id, *README_BODY["participantIds"]]
"""
# After each Python example: the README body through that client (README_JSON filled in).
PY_README_SENDS = {
    "openapi-python-client": """\
from chat_api_client import AuthenticatedClient as ReadmeClient
from chat_api_client.api.chats import create_chat as readme_create_chat
from chat_api_client.models import ChatResponse as ReadmeChatResponse
from chat_api_client.models import CreateChatRequest as ReadmeRequest

readme = readme_create_chat.sync_detailed(
    client=ReadmeClient(base_url=API, token=alice_token), body=ReadmeRequest.from_dict(README_BODY)
)
readme_chat = readme.parsed.data.chat if isinstance(readme.parsed, ReadmeChatResponse) else None
readme_participants = readme_chat.participants if readme_chat else None
doc_checks.check_readme_chat(readme.status_code, readme_participants, readme_expected)
""",
    "openapi-generator-python": """\
from chat_api_pydantic import ApiClient as ReadmeApiClient
from chat_api_pydantic import Configuration as ReadmeConfiguration
from chat_api_pydantic.api import ChatsApi as ReadmeChatsApi
from chat_api_pydantic.models import CreateChatRequest as ReadmeRequest

readme_auth = ReadmeConfiguration(host=API, access_token=alice_token)
readme_api = ReadmeChatsApi(ReadmeApiClient(readme_auth))
readme = readme_api.create_chat_with_http_info(ReadmeRequest.from_dict(README_BODY))
readme_participants = readme.data.data.chat.participants
doc_checks.check_readme_chat(readme.status_code, readme_participants, readme_expected)
""",
}


class ExampleMissing(LookupError):
    """The docs no longer hold something a program is made of."""


def examples(text: str) -> dict[str, str]:
    """Each marked example's code, by name."""
    found: dict[str, str] = {}
    for match in MARKER.finditer(text):
        if match["name"] in found:
            raise ValueError(f"two examples are marked {match['name']!r}")
        found[match["name"]] = match["code"]
    return found


def example(found: dict[str, str], name: str) -> str:
    if name not in found:
        raise ExampleMissing(f"no `<!-- sdk-example: {name} -->` before a code block in {DOC}")
    return found[name]


def readme_body(text: str) -> str:
    """The JSON body of the quick start's `curl ... -d '{...}' .../api/chat`."""
    bodies = [match["body"] for match in README_BODY.finditer(text)]
    if len(bodies) != 1:
        raise ExampleMissing(f"expected one `-d '...' .../api/chat` in {README}, found {bodies}")
    json.loads(bodies[0])  # it must be JSON to be the body it claims to be
    return bodies[0]


def split_imports(code: str) -> tuple[str, str]:
    """A TypeScript example's import declarations, and the rest of it."""
    return "".join(TS_IMPORT.findall(code)), TS_IMPORT.sub("", code)


def indented(code: str) -> str:
    return "".join(f"  {line}" if line.strip() else line for line in code.splitlines(True))


def typescript_program(name: str, users: str, code: str, body: str) -> str:
    users_imports, users_code = split_imports(users)
    imports, statements = split_imports(code)
    readme_imports, readme_statements = TS_README_SENDS[name]
    steps = "\n".join(
        [users_code, statements, TS_OPENED_AND_SENT, readme_statements.replace("README_BODY", body)]
    )
    return (
        f"// {HEADER}\n{TS_HARNESS_IMPORTS}{readme_imports}{users_imports}{imports}\n"
        f"async function example(): Promise<void> {{\n{indented(steps)}}}\n\n"
        f"runFlow({json.dumps(f'docs example {name}')}, example);\n"
    )


def python_program(name: str, code: str, body: str) -> str:
    checks = PY_CHECKS.replace("README_JSON", repr(body))
    ending = f'print("docs example {name}: all steps passed")\n'
    return "\n".join([f"# {HEADER}", PY_PRELUDE, code, checks, PY_README_SENDS[name], ending])


def module_name(name: str) -> str:
    return name.replace("-", "_")


def write(out: Path, doc: str | None = None, readme: str | None = None) -> dict[str, Path]:
    """Write every program (and the modules its imports resolve to) into `out`; return
    the programs by example name."""
    found = examples(DOC.read_text(encoding="utf-8") if doc is None else doc)
    body = readme_body(README.read_text(encoding="utf-8") if readme is None else readme)
    users = example(found, "users")
    if out.exists():  # a program of an example the docs dropped would still be compiled
        shutil.rmtree(out)
    programs: dict[str, Path] = {}
    for relative, text in TS_CLIENT_MODULES.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(f"// {HEADER}\n{text}", encoding="utf-8")
    for name in TS_README_SENDS:
        programs[name] = out / f"{module_name(name)}.ts"
        source = typescript_program(name, users, example(found, name), body)
        programs[name].write_text(source, encoding="utf-8")
    for name in PY_README_SENDS:
        programs[name] = out / f"{module_name(name)}.py"
        programs[name].write_text(python_program(name, example(found, name), body), "utf-8")
    unused = sorted(set(found) - set(programs) - {"users"})
    if unused:
        raise ExampleMissing(f"marked examples no program runs: {', '.join(unused)}")
    return programs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the docs' client examples as programs.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        programs = write(args.out.resolve())
    except ExampleMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, path in programs.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
