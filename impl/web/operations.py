"""Which operation of the served spec a request is for, known before Connexion routes it.

The fault and journal layers sit in front of Connexion and name requests by operationId;
this table answers from the spec's paths and methods, concrete paths before templated
ones (as OpenAPI matches them).
"""

from __future__ import annotations

import re
from typing import Any

METHODS = ("get", "put", "post", "patch", "delete")
DEV_PREFIX = "/api/dev/"


def is_dev_path(path: str) -> bool:
    return path.startswith(DEV_PREFIX)


class Operations:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.table: list[tuple[re.Pattern[str], dict[str, str]]] = []
        self.tags: dict[str, set[str]] = {}
        for template, item in sorted(spec["paths"].items(), key=lambda e: e[0].count("{")):
            pattern = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")
            by_method = {m.upper(): item[m]["operationId"] for m in METHODS if m in item}
            self.table.append((pattern, by_method))
            for method in METHODS:
                if method in item:
                    self.tags[item[method]["operationId"]] = set(item[method].get("tags", []))

    def find(self, method: str, path: str) -> str | None:
        """The operationId of `method path`, None when the spec has no such operation."""
        for pattern, by_method in self.table:
            if pattern.match(path):
                return by_method.get(method)
        return None

    def ids(self, without_tag: str | None = None) -> list[str]:
        return sorted(op for op, tags in self.tags.items() if without_tag not in tags)
