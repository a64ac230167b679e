"""Tiny images for tests that send pictures: a PNG signature and its header chunk, enough for
anything that checks what kind of file it got and how large the picture is."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 4, height: int = 4) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(header))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )
