"""What a domain function hands back to its handler: data, status, headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    data: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
