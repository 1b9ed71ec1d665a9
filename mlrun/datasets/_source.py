"""The one guarded reader of a data file's bytes, for tables and ratings alike: the compression comes from the
file's first bytes (never from its name), and what a compressed file inflates to is bounded by a quarter of this
machine's memory (mlrun.datasets._checks.memory_limit) before it can fill it.

    kind = compression(path)                   # "gzip" | "bz2" | "xz" | "zip" | None (plain)
    with open_decompressed(path, name, kind) as stream:   # a buffered binary stream of the content
        ...
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from pathlib import Path

from mlrun.datasets._checks import memory_limit
from mlrun.errors import UserError

COMPRESSION = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}   # magic → codec


def head(file: Path, n: int = 8) -> bytes:
    with open(file, "rb") as f:
        return f.read(n)


def compression(file: Path | None = None, start: bytes | None = None) -> str | None:
    """The codec of a file (or of its first bytes `start`) from its magic bytes; None for anything else."""
    start = head(file) if start is None else start
    return next((codec for magic, codec in COMPRESSION.items() if start.startswith(magic)), None)


class Bounded(io.RawIOBase):
    """A binary stream that refuses to yield more than `limit` bytes (one UserError line naming the file)."""

    def __init__(self, raw, limit: int, name: str):
        super().__init__()
        self.raw, self.limit, self.name, self.total = raw, limit, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer)
        self.total += n or 0
        if self.total > self.limit:
            raise UserError(f"{self.name}: decompresses to more than {self.limit / 1e9:.1f} GB (a quarter of this "
                            f"machine's memory); refused. If the data is genuine, decompress it and read the plain "
                            f"file")
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_decompressed(file: Path, name: str, kind: str, what: str = "data file") -> io.BufferedReader:
    """The content of a compressed `file` (`kind` from `compression`) as a bounded buffered binary stream. A zip
    archive must hold exactly one `what`, whose declared size is checked before a byte is inflated."""
    limit = memory_limit()
    if kind == "zip":
        archive = zipfile.ZipFile(file)
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            archive.close()
            raise UserError(f"{name}: a zip archive must hold exactly one {what}; it holds {len(members)}"
                            f"{': ' if members else ''}{', '.join(m.filename for m in members[:5])}")
        if members[0].file_size > limit:
            archive.close()
            raise UserError(f"{name}: {members[0].filename} declares {members[0].file_size / 1e9:.1f} GB "
                            f"uncompressed, more than a quarter of this machine's memory; refused")
        raw = archive.open(members[0])
    else:
        raw = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind](file, "rb")
    return io.BufferedReader(Bounded(raw, limit, name), buffer_size=1 << 20)
