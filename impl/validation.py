"""Connexion's JSON body validator, made strict about what can be stored and read back.

On top of the schema: a body that is not UTF-8 is 400 (Connexion would answer 500),
NaN/Infinity literals are 400, and `limits.check_storable` / `check_metadata` run on the
decoded body. The byte limit itself is enforced earlier, by `bodylimit`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.validators import (
    VALIDATOR_MAP,
    JSONRequestBodyValidator,
    MultiPartFormDataValidator,
)
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import Scope

from impl.errors import ValidationFailed
from impl.limits import check_metadata, check_storable


def _refuse_constant(name: str) -> Any:
    raise ValidationFailed(f"{name} is not a JSON number this API accepts")


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        try:
            text = raw.decode(self._encoding)
        except (UnicodeDecodeError, LookupError):
            raise ValidationFailed("the body is not valid UTF-8 JSON") from None
        if not text:
            return None
        try:
            value = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"the body is not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise ValidationFailed("the body is nested too deeply") from None
        if value is None and not self._nullable:
            # `null` is a body of the wrong type, not a missing one (which is no bytes at all).
            raise ValidationFailed("the body is JSON null; send an object or no body at all")
        return value

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if body is None and not self._required:
            return None  # an optional body that was left out
        check_storable(body)
        result: dict[str, Any] | None = super()._validate(body)
        if isinstance(body, dict) and "metadata" in body:
            check_metadata(body["metadata"])
        return result


class _ClosingMultiPartParser(MultiPartParser):
    """The validator only looks at which fields a form has: close its spooled copies at once
    (left open they leak a temporary file per upload until garbage collection)."""

    async def parse(self) -> FormData:
        try:
            form = await super().parse()
        except MultiPartException as exc:  # malformed multipart is the client's error: 400
            raise ValidationFailed(f"the multipart body is not valid: {exc.message}") from None
        for _, value in form.multi_items():
            if isinstance(value, UploadFile):
                await value.close()
        return form


class ClosingMultiPartValidator(MultiPartFormDataValidator):
    @property
    def _form_parser_cls(self) -> type[MultiPartParser]:
        return _ClosingMultiPartParser


def validator_map() -> dict[str, Any]:
    body = dict(VALIDATOR_MAP["body"])
    body["*/*json"] = StrictJSONBodyValidator
    body["multipart/form-data"] = ClosingMultiPartValidator
    return {**VALIDATOR_MAP, "body": MediaTypeDict(body)}
