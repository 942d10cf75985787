"""The REST side of the kit: one aiohttp session to the target, every answer checked
against the operation openapi.yaml gives its method and path, and recorded in the trace of
the rule that made it.

A breach of the contract (an undocumented status, a body or header off its schema) fails
the rule at once with the exchange in its report; what a rule expects beyond the schema
(201 rather than 200, a problem's `code`) is the rule's own business (`conformance.expect`).
"""

from __future__ import annotations

import io
import json as jsonlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from conformance.specs import Contract
from conformance.trace import Exchange, RuleFailed, shown, trace

NOTHING: Any = object()
REQUEST_TIMEOUT_S = 30.0


class Unreachable(Exception):
    """The target did not answer at all (refused, reset, timed out, no such host)."""


@dataclass
class Form:
    """A multipart body: text fields and one file."""

    fields: dict[str, str]
    file_name: str
    file_bytes: bytes
    file_type: str

    def payload(self) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value in self.fields.items():
            form.add_field(name, value)
        # a stream, not bytes: aiohttp warns that a large bytes body would hold the loop
        content = io.BytesIO(self.file_bytes)
        form.add_field("file", content, filename=self.file_name, content_type=self.file_type)
        return form

    def summary(self) -> str:
        described = {
            **self.fields,
            "file": f"{self.file_name} ({self.file_type}, {len(self.file_bytes)} bytes)",
        }
        return jsonlib.dumps(described)


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    json: Any
    exchange: Exchange

    @property
    def data(self) -> Any:
        """The `data` of a success envelope (None when there is none)."""
        return self.json.get("data") if isinstance(self.json, dict) else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class Rest:
    def __init__(self, base_url: str, contract: Contract, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.base_path = urlsplit(self.base_url).path
        self.contract = contract
        self.session = session

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = NOTHING,
        form: Form | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        actor: str | None = None,
        check: bool = True,
    ) -> Reply:
        """Send one request; its answer, checked against openapi.yaml unless `check` is off."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        body: Any = None
        if json is not NOTHING:
            body = io.BytesIO(jsonlib.dumps(json, ensure_ascii=False).encode())
            sent.setdefault("Content-Type", "application/json")
        elif form is not None:
            body = form.payload()
        route = self.contract.operation(method, path)
        exchange = Exchange(
            method=method.upper(),
            path=path + query,
            operation=route.operation_id if route else None,
            actor=actor,
            request_headers={
                k: ("Bearer [token]" if k == "Authorization" else v) for k, v in sent.items()
            },
            request_body=form.summary()
            if form is not None
            else shown(json if json is not NOTHING else None),
        )
        trace().exchanges.append(exchange)
        started = time.monotonic()
        try:
            async with self.session.request(
                method, self.base_url + path + query, data=body, headers=sent, allow_redirects=False
            ) as response:
                content = await response.read()
                status, received = response.status, response.headers
                content_type = received.get("Content-Type")
        except (aiohttp.ClientError, TimeoutError) as exc:
            exchange.response_body = f"no answer: {exc!r}"
            raise Unreachable(f"{method.upper()} {self.base_url}{path}: {exc!r}") from exc
        exchange.seconds = time.monotonic() - started
        exchange.status, exchange.response_headers = status, dict(received)
        exchange.response_body = shown(content)
        parsed = _json_or_none(content, content_type)
        reply = Reply(status, received, content, parsed, exchange)
        if check and route is not None:
            problems = self.contract.response_problems(
                route, status, content_type, received, parsed, bool(content)
            )
            if problems:
                raise RuleFailed(f"{exchange.line} breaks openapi.yaml:\n" + "\n".join(problems))
        return reply


def _json_or_none(content: bytes, content_type: str | None) -> Any:
    media = (content_type or "").split(";")[0].strip().lower()
    if not content or not (media.endswith("/json") or media.endswith("+json")):
        return None
    try:
        return jsonlib.loads(content)
    except ValueError:
        return None
