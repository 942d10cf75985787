"""Connexion's body validators, made strict about what can be parsed, stored and logged.

JSON bodies: a body without a `Content-Type` is 415 (Connexion would guess JSON, then hand
the handler raw bytes); the bytes are read as UTF-8 whatever charset is declared (the
handler's parser ignores it too), and non-UTF-8 is 400; NaN/Infinity literals are 400;
`limits.check_depth` bounds the nesting before anything recursive walks the value, then
`check_storable`, the schema and `check_metadata` run.

Multipart bodies: malformed or truncated multipart is 400, a missing `Content-Type` 415;
each file field of the schema must hold exactly one part that carries a filename, and no
other field a file (Connexion's form decoding trips over both: a part without a filename
is a text field to the parser, and a file among a text field's values breaks its joining).

`LowercaseMediaType` (a middleware before Connexion's validation) makes the media type
case-insensitive, as HTTP has it.

Schema failures are answered and logged in a few hundred characters at most: Connexion's
own validators log the whole offending value (a rejected 1 MB message wrote 1 MB of user
content to the log) and quote it back in `detail`.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.validators import (
    VALIDATOR_MAP,
    JSONRequestBodyValidator,
    MultiPartFormDataValidator,
    ParameterValidator,
)
from jsonschema import ValidationError
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import ASGIApp, Receive, Scope, Send

from impl.domain.input_rules import check_depth, check_metadata, check_storable
from impl.errors import UnsupportedMediaType, ValidationFailed, shorten
from impl.settings import Settings

log = logging.getLogger("impl.web.validation")


def _refuse_constant(name: str) -> Any:
    raise ValidationFailed(f"{name} is not a JSON number this API accepts")


def _require_content_type(scope: Scope, expected: str) -> None:
    if "content-type" not in Headers(scope=scope):
        raise UnsupportedMediaType(f"the Content-Type header is missing; send {expected}")


class LowercaseMediaType:
    """Lowercases the media type of `Content-Type` (its parameters stay as sent: a boundary
    is case-sensitive). Media types are case-insensitive, but Connexion matches them as
    written when it picks the body's schema and decoder: `APPLICATION/JSON` passed the
    media type check, skipped body validation, and reached the handler as raw bytes (500).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = []
            for name, value in scope.get("headers", []):
                if name == b"content-type":
                    media_type, separator, parameters = value.partition(b";")
                    value = media_type.lower() + separator + parameters
                headers.append((name, value))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def check_schema(validator: Any, body: Any) -> None:
    """400 for a body the schema refuses, described (and logged) without quoting it whole."""
    try:
        validator.validate(body)
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.absolute_path) or "the body"
        message = exc.message
        if len(message) > 200:  # the message quotes the value: name the rule instead
            rule = shorten(repr(exc.validator_value), 80)
            message = f"{where} does not satisfy {exc.validator} {rule}"
        elif exc.absolute_path:
            message = f"{message} ({where})"
        detail = shorten(message)
        log.debug("request body refused: %s", detail)
        raise ValidationFailed(detail) from None


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    def __init__(self, *args: Any, metadata_max_bytes: int, metadata_max_depth: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.metadata_max_bytes = metadata_max_bytes
        self.metadata_max_depth = metadata_max_depth

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        if raw:
            _require_content_type(scope, "application/json")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed("the body is not valid UTF-8 JSON") from None
        if not text:
            return None
        try:
            value = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"the body is not valid JSON: {exc.msg}") from None
        except RecursionError:  # the parser's own guard against pathological nesting
            raise ValidationFailed("the body is nested too deeply") from None
        if value is None and not self._nullable:
            # `null` is a body of the wrong type, not a missing one (which is no bytes at all).
            raise ValidationFailed("the body is JSON null; send an object or no body at all")
        return value

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if body is None:
            if self._required:
                raise ValidationFailed("the request body is missing")
            return None  # an optional body that was left out
        check_depth(body)
        check_storable(body)
        check_schema(self._validator, body)
        if isinstance(body, dict) and "metadata" in body:
            check_metadata(body["metadata"], self.metadata_max_bytes, self.metadata_max_depth)
        return None


def check_file_parts(name: str, parts: list[Any]) -> None:
    """A file field holds one part, and that part names its file."""
    if len(parts) > 1:
        raise ValidationFailed(f"send one file in the form field '{name}', not {len(parts)}")
    for part in parts:
        filename = part.filename if isinstance(part, UploadFile) else None
        if not filename or not filename.strip():
            raise ValidationFailed(f"the form field '{name}' must be a file part with a filename")


class _UploadFormParser(MultiPartParser):
    """Starlette's multipart parser, with its failures answered as 400, a body that stops
    before its closing boundary refused, and the file fields checked. The validator only
    looks at which fields a form has: it closes every spooled copy at once (left open they
    leak a temporary file per upload until collected)."""

    def __init__(self, *args: Any, file_fields: Iterable[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.file_fields = tuple(file_fields)
        self.complete = False

    def on_end(self) -> None:  # the closing boundary was read
        self.complete = True

    async def parse(self) -> FormData:
        if "content-type" not in self.headers:
            raise UnsupportedMediaType("the Content-Type header is missing; send multipart")
        try:
            form = await super().parse()
        except MultiPartException as exc:  # malformed multipart is the client's error: 400
            raise ValidationFailed(
                f"the multipart body is not valid: {shorten(exc.message)}"
            ) from None
        try:
            if not self.complete:
                raise ValidationFailed("the multipart body ends before its closing boundary")
            for name in self.file_fields:
                check_file_parts(name, form.getlist(name))
            for name, value in form.multi_items():
                if isinstance(value, UploadFile) and name not in self.file_fields:
                    raise ValidationFailed(f"the form field {shorten(name, 40)!r} takes no file")
        finally:
            # Every file the parser opened, also a part cut off before its end (not in `form`).
            for file in self._files_to_close_on_error:
                file.close()
        return form


class UploadFormValidator(MultiPartFormDataValidator):
    @property
    def _form_parser_cls(self) -> Callable[..., MultiPartParser]:
        properties = self._schema.get("properties", {})
        file_fields = [k for k, v in properties.items() if v.get("format") == "binary"]
        return functools.partial(_UploadFormParser, file_fields=file_fields)

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            raise ValidationFailed("the form could not be read")
        if self._strict_validation:
            self._validate_params_strictly(body)
        check_schema(self._validator, body)
        return None


class NamedParameterValidator(ParameterValidator):
    """Connexion's parameter checks, with the parameter named in the message: jsonschema
    alone says `101 is greater than the maximum of 100`, not which of the query's numbers."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        error: str | None = ParameterValidator.validate_parameter(
            parameter_type, value, param, param_name
        )
        if error is None or error.startswith("Missing"):
            return error
        return f"{parameter_type} parameter '{param_name or param['name']}': {error}"


def validator_map(settings: Settings) -> dict[str, Any]:
    body = dict(VALIDATOR_MAP["body"])
    body["*/*json"] = functools.partial(
        StrictJSONBodyValidator,
        metadata_max_bytes=settings.metadata_max_bytes,
        metadata_max_depth=settings.metadata_max_depth,
    )
    body["multipart/form-data"] = UploadFormValidator
    return {**VALIDATOR_MAP, "parameter": NamedParameterValidator, "body": MediaTypeDict(body)}
