"""Users: looked up by id on every authenticated call, found by role for the support pool."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bson import ObjectId

from impl.errors import NotFound
from impl.store.base import ASC, Doc, Index, Table, primary

BY_ID = primary("users")
BY_ROLE = Index("users", [("role", ASC), ("status", ASC)])
INDEXES = [BY_ROLE]
ROLES = ("user", "support", "admin")


class Users:
    def __init__(self, table: Table) -> None:
        self.table = table

    def get(self, user_id: ObjectId) -> Doc | None:
        return self.table.find_one(BY_ID, {"_id": user_id})

    def require(self, user_id: ObjectId) -> Doc:
        user = self.get(user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    def by_ids(self, user_ids: Iterable[ObjectId]) -> dict[ObjectId, Doc]:
        found = self.table.find(BY_ID, {"_id": {"$in": list(user_ids)}})
        return {u["_id"]: u for u in found}

    def missing(self, user_ids: list[ObjectId]) -> list[ObjectId]:
        """Those of `user_ids` that name no user."""
        found = self.table.find(BY_ID, {"_id": {"$in": user_ids}}, projection={"_id": True})
        known = {u["_id"] for u in found}
        return [u for u in user_ids if u not in known]

    def active_with_roles(self, roles: Iterable[str], exclude: ObjectId) -> list[ObjectId]:
        query = {"role": {"$in": list(roles)}, "status": "active", "_id": {"$ne": exclude}}
        found = self.table.find(BY_ROLE, query, sort=[("_id", ASC)], projection={"_id": True})
        return [u["_id"] for u in found]

    def oldest_first(
        self, limit: int = 0, projection: Mapping[str, Any] | None = None
    ) -> list[Doc]:
        """Every user, or the `limit` oldest (dev: the list with tokens, whose sockets to
        drop); every user has one of the roles."""
        query = {"role": {"$in": list(ROLES)}}
        return self.table.find(
            BY_ROLE, query, sort=[("_id", ASC)], limit=limit, projection=projection
        )

    def all_ids(self) -> list[Doc]:
        """Every user's id."""
        return self.oldest_first(projection={"_id": True})

    def add(self, doc: Doc) -> None:
        self.table.insert(doc)

    def change(self, user_id: ObjectId, changes: Mapping[str, Any]) -> Doc:
        """Set `changes` on the user; the user as it now is, or 404."""
        if not changes:
            return self.require(user_id)
        user = self.table.find_one_and_update(BY_ID, {"_id": user_id}, {"$set": dict(changes)})
        if user is None:
            raise NotFound("user not found")
        return user
