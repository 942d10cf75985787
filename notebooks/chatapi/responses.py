"""One HTTP exchange as a notebook shows it: status, headers and the parsed body, masked."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import ChatAPI


class Response:
    """One HTTP exchange: status, headers and the parsed body, displayed masked."""

    def __init__(
        self,
        api: ChatAPI,
        method: str,
        path: str,
        status: int,
        headers: Any,
        raw: bytes,
    ) -> None:
        self.api = api
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.raw = raw
        self.content_type = headers.get("Content-Type", "").split(";")[0].strip()
        self.body: Any = None
        if self.content_type.endswith("json") and raw:
            self.body = json.loads(raw)
            api.aliases.collect(self.body)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def data(self) -> Any:
        """The `data` member of a success envelope."""
        assert isinstance(self.body, dict) and self.body.get("success") is True, self.text()
        return self.body["data"]

    @property
    def code(self) -> str | None:
        """The machine `code` of a problem document."""
        return self.body.get("code") if isinstance(self.body, dict) else None

    def header(self, name: str) -> str | None:
        value: str | None = self.headers.get(name)
        return value

    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = ""
        return f"{self.method} {self.api.aliases.text(self.path)}  ->  {self.status} {phrase}"

    def text(self, *headers: str) -> str:
        lines = [self.status_line()]
        for name in headers:
            value = self.headers.get(name)
            if value is not None:
                lines.append(f"{name}: {self.api.aliases.text(value)}")
        if self.body is not None:
            lines.append(self.api.aliases.dumps(self.body))
        elif self.raw:
            lines.append(f"<{len(self.raw)} bytes of {self.content_type or 'unknown type'}>")
        return "\n".join(lines)

    def show(self, *headers: str) -> None:
        """Print the exchange, with the named response headers."""
        print(self.text(*headers))

    def expect(self, status: int, code: str | None = None) -> Response:
        """Assert the status (and the problem `code`), then return self for display."""
        assert self.status == status, self.text()
        if code is not None:
            assert self.content_type == "application/problem+json", self.content_type
            assert self.body["success"] is False and self.code == code, self.text()
        return self

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())
