"""Rules: a stable id, one sentence, the spec place it comes from, and its check.

The id's first part is its section, and the sections follow the specs: the limits the
server reports, each operation of openapi.yaml, authentication and participation, then
the rules of chats, messages, unread counts, limits, attachments, events and replay,
Socket.IO rooms and typing, and offline notifications. Rule modules register with
`@rule(...)`; `conformance.rules` imports them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conformance.specs import Source

if TYPE_CHECKING:
    from conformance.check import Check

SECTIONS: dict[str, str] = {
    "config": "Limits in force (GET /api/chat/config)",
    "operations": "Operations: documented statuses and bodies",
    "auth": "Authentication",
    "ids": "Ids in paths",
    "access": "Participants only",
    "chats": "Chats",
    "messages": "Messages",
    "unread": "Unread counts",
    "limits": "Rate limit, length and edit window",
    "attachments": "Attachments",
    "events": "Event order and replay",
    "realtime": "Socket.IO rooms, events and typing",
    "notifications": "Offline notifications",
}

Body = Callable[["Check"], Awaitable[None]]


@dataclass(frozen=True)
class Rule:
    id: str
    statement: str
    source: Source
    check: Body
    needs: tuple[str, ...] = ()
    # rules that move the clock run after all others, the largest move last
    clock_order: int = 0

    @property
    def section(self) -> str:
        return self.id.split(".", 1)[0]


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str,
    statement: str,
    source: Source,
    needs: tuple[str, ...] = (),
    clock_order: int = 0,
) -> Callable[[Body], Body]:
    """Register the decorated coroutine as the check of rule `rule_id`."""
    if rule_id.split(".", 1)[0] not in SECTIONS:
        raise ValueError(f"{rule_id}: unknown section")

    def register(check: Body) -> Body:
        if rule_id in RULES:
            raise ValueError(f"two rules are named {rule_id}")
        RULES[rule_id] = Rule(rule_id, statement, source, check, needs, clock_order)
        return check

    return register


def ordered(rules: dict[str, Rule]) -> list[Rule]:
    """The order a run takes: sections in spec order, rules as written, clock movers last."""
    sections = list(SECTIONS)
    written = list(rules)
    return sorted(
        rules.values(),
        key=lambda r: (r.clock_order, sections.index(r.section), written.index(r.id)),
    )


def by_section(rules: dict[str, Rule]) -> dict[str, list[Rule]]:
    """The rules of each section, sections in spec order, rules as written."""
    grouped: dict[str, list[Rule]] = {}
    for found in rules.values():
        grouped.setdefault(found.section, []).append(found)
    return {section: grouped[section] for section in SECTIONS if section in grouped}
