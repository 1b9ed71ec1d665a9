"""The bytes and text of a ratings file: compression found by magic bytes (never by the file's name), the
decompressed size bounded, text encodings checked.

A gzip file named `ratings.csv` is read as gzip, and a plain file named `ratings.csv.gz` as plain text.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import zipfile
from pathlib import Path

from mlrun.datasets._checks import memory_limit
from mlrun.errors import UserError

COMPRESSION = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}   # magic → codec
PARQUET_MAGIC = b"PAR1"
STREAM_ERRORS = (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile)   # a corrupt compressed stream


def head(file: Path, n: int = 8) -> bytes:
    with open(file, "rb") as f:
        return f.read(n)


def compression(file: Path) -> str | None:
    """"gzip" | "bz2" | "xz" | "zip" from the file's first bytes; None for anything else (plain text)."""
    start = head(file)
    return next((codec for magic, codec in COMPRESSION.items() if start.startswith(magic)), None)


class _Bounded(io.RawIOBase):
    """A binary stream that refuses to yield more than `limit` bytes (one UserError naming the file)."""

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
                            f"machine's memory); refused. Decompress it and read the plain file")
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_binary(file: Path, name: str):
    """The file's decompressed bytes as a buffered binary stream (plain files: the file itself). `name` is how
    messages name the file, e.g. "dataset.path='r.csv'"."""
    kind = compression(file)
    if kind is None:
        return open(file, "rb")
    if kind == "zip":
        archive = zipfile.ZipFile(file)
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            archive.close()
            raise UserError(f"{name}: a zip archive must hold exactly one ratings file; it holds {len(members)}")
        raw = archive.open(members[0])
    else:
        raw = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind](file, "rb")
    return io.BufferedReader(_Bounded(raw, memory_limit(), name), buffer_size=1 << 20)


def read_bytes(file: Path, name: str) -> bytes:
    """All decompressed bytes, bounded by a quarter of this machine's memory."""
    if compression(file) is None and file.stat().st_size > memory_limit():
        raise UserError(f"{name}: {file.stat().st_size / 1e9:.1f} GB, more than a quarter of this machine's memory; "
                        f"refused")
    try:
        with open_binary(file, name) as f:
            return f.read()
    except STREAM_ERRORS as e:
        raise UserError(f"{name}: a corrupt {compression(file)} stream ({type(e).__name__}: {e})") from None


def codec(encoding: str, key: str = "dataset.encoding") -> str:
    """The codec name for `encoding` (utf-8 skips a byte-order mark), or one line naming `key`."""
    try:
        name = codecs.lookup(str(encoding)).name
    except LookupError:
        raise UserError(f"{key}={encoding!r}: unknown encoding; e.g. utf-8, latin-1, cp1252, utf-16") from None
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def ascii_compatible(codec_name: str) -> bool:
    """Does the codec write ASCII as ASCII bytes (so lines split at b"\\n")?"""
    return codec_name == "utf-8-sig" or "\n,:;|\t".encode(codec_name) == b"\n,:;|\t"
