"""Attachment bytes in GridFS: write in chunks, read back, remove with their message.

The legacy `gridfs.GridFS` API is used because it works the same on MongoDB and on
mongomock's GridFS integration (its `GridFSBucket` does not run under mongomock).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gridfs
from bson import ObjectId
from bson.errors import InvalidId

from impl.store import Store


def grid(store: Store) -> gridfs.GridFS:
    return gridfs.GridFS(store.db)


def new_file(store: Store, **metadata: Any) -> gridfs.GridIn:
    return grid(store).new_file(metadata=metadata)


def open_file(store: Store, file_id: ObjectId) -> gridfs.GridOut | None:
    try:
        return grid(store).get(file_id)
    except gridfs.errors.NoFile:
        return None


def remove(store: Store, file_ids: Iterable[ObjectId]) -> None:
    fs = grid(store)
    for file_id in file_ids:
        fs.delete(file_id)


def attachment_file_ids(attachments: Iterable[dict[str, Any]]) -> list[ObjectId]:
    ids = []
    for attachment in attachments:
        try:
            ids.append(ObjectId(attachment["fileId"]))
        except (KeyError, InvalidId, TypeError):
            continue
    return ids
