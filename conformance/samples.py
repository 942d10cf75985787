"""Values the rules send: ids that name nothing, unique keys, and small files of each kind."""

from __future__ import annotations

import secrets
import struct
import zlib

from conformance.http import Form

# well-formed ids that no server made (they would have to guess them)
UNKNOWN_ID = "65f0000000000000000c0ffe"
MALFORMED_ID = "not-an-id"


def new_id() -> str:
    """A fresh 24-hex id, for a purchase request the kit makes up."""
    return secrets.token_hex(12)


def key() -> str:
    """A fresh `clientMessageId`."""
    return f"conformance-{secrets.token_hex(8)}"


def png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# A ZIP archive's local header: a type no chat accepts, whatever the client claims.
ARCHIVE = b"PK\x03\x04" + bytes(26) + b"conformance"


def png_form(name: str = "pixel.png", claimed: str = "image/png", **fields: str) -> Form:
    return Form(dict(fields), name, png(), claimed)
