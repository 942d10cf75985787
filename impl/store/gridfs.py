"""Attachment bytes in GridFS: written in chunks, read back, removed with their message.

The legacy `gridfs.GridFS` API is used because it works the same on MongoDB and on
mongomock's GridFS integration (its `GridFSBucket` does not run under mongomock). Each
file's metadata names its chat, which is what a download is checked against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

import gridfs
from bson import ObjectId
from pymongo.database import Database

from impl.store.base import Outage


@dataclass(frozen=True)
class StoredFile:
    content: bytes
    filename: str
    mime_type: str


class Files:
    def __init__(self, db: Database[Any], outage: Outage) -> None:
        self.db = db
        self.outage = outage

    def _grid(self) -> gridfs.GridFS:
        return gridfs.GridFS(self.db)

    def save(
        self, chat_id: ObjectId, filename: str, mime_type: str, stream: IO[bytes], chunk: int
    ) -> ObjectId:
        """Copy `stream` into a new file of the chat; its id."""

        def run() -> ObjectId:
            metadata = {"filename": filename, "contentType": mime_type, "chatId": chat_id}
            grid_in = self._grid().new_file(metadata=metadata)
            with grid_in:
                while block := stream.read(chunk):
                    grid_in.write(block)
            file_id: ObjectId = grid_in._id
            return file_id

        return self.outage.guard(run)

    def read_in_chat(self, chat_id: ObjectId, file_id: ObjectId) -> StoredFile | None:
        """The file, if it belongs to that chat."""

        def run() -> StoredFile | None:
            try:
                stored = self._grid().get(file_id)
            except gridfs.errors.NoFile:
                return None
            metadata = stored.metadata or {}
            if metadata.get("chatId") != chat_id:
                return None
            return StoredFile(stored.read(), metadata["filename"], metadata["contentType"])

        return self.outage.guard(run)

    def remove(self, file_ids: Iterable[ObjectId]) -> None:
        def run() -> None:
            grid = self._grid()
            for file_id in file_ids:
                grid.delete(file_id)

        self.outage.guard(run)
