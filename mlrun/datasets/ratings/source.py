"""The bytes and text of a ratings file: compression found by magic bytes (never by the file's name), the
decompressed size bounded, no line longer than 1 MiB (source.LINE_LIMIT: a ratings row is a few dozen bytes),
text encodings checked.

A gzip file named `ratings.csv` is read as gzip, and a plain file named `ratings.csv.gz` as plain text.
"""

from __future__ import annotations

import codecs
import lzma
import zipfile
from pathlib import Path

from mlrun.datasets._checks import memory_limit
# head, shown, LINE_LIMIT: used as source.* by the ratings readers
from mlrun.datasets._source import LINE_LIMIT, compression, head, open_decompressed, open_plain, shown  # noqa: F401
from mlrun.errors import UserError

PARQUET_MAGIC = b"PAR1"
STREAM_ERRORS = (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile)   # a corrupt compressed stream


def open_binary(file: Path, name: str):
    """The file's decompressed bytes as a buffered binary stream that refuses a line longer than LINE_LIMIT (1 MiB)
    bytes in one line naming it. `name` is how messages name the file, e.g. "dataset.path='r.csv'"."""
    kind = compression(file)
    if kind is None:
        return open_plain(file, name)
    return open_decompressed(file, name, kind, "ratings file")


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
