"""Every rule of the kit, one module per section (see `conformance.registry`)."""

from conformance.registry import RULES, ordered
from conformance.rules import (
    access,
    attachments,
    chats,
    config,
    events,
    limits,
    messages,
    notifications,
    operations,
    realtime,
    unread,
)

__all__ = [
    "RULES",
    "access",
    "attachments",
    "chats",
    "config",
    "events",
    "limits",
    "messages",
    "notifications",
    "operations",
    "ordered",
    "realtime",
    "unread",
]
