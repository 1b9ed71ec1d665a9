"""The one guarded reader of a data file's bytes, for tables and ratings alike: the compression comes from the
file's first bytes (never from its name), and what a compressed file inflates to is bounded by a quarter of this
machine's memory (mlrun.datasets._checks.memory_limit) before it can fill it. A line longer than `line_limit`
bytes (LINE_LIMIT = 1 MiB by default: a ratings row is a few dozen bytes) is refused while it streams, naming the
file and the line, so one huge field (300 MB of digits in a 290 KB gzip) never reaches a parser.

    kind = compression(path)                   # "gzip" | "bz2" | "xz" | "zip" | None (plain)
    with open_decompressed(path, name, kind) as stream:   # a buffered binary stream of the content
        ...
    with open_plain(path, name) as stream:     # a plain file with the same line bound
    shown(value)                               # a file's value for a message: '1111…' (300,000,001 characters)
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

LINE_LIMIT = 1 << 20                   # bytes: the longest line a text data file may hold (default)
SHOWN = 40                             # characters of a file's value quoted in a message
COMPRESSION = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}   # magic → codec


def head(file: Path, n: int = 8) -> bytes:
    with open(file, "rb") as f:
        return f.read(n)


def compression(file: Path | None = None, start: bytes | None = None) -> str | None:
    """The codec of a file (or of its first bytes `start`) from its magic bytes; None for anything else."""
    start = head(file) if start is None else start
    return next((codec for magic, codec in COMPRESSION.items() if start.startswith(magic)), None)


def shown(value, n: int = SHOWN, quote: bool = True) -> str:
    """A value from a file for a one-line message (its repr, or its text when not `quote`): whole when short, else
    its first `n` characters, '…' and its length (a 300 MB cell must not become a 300 MB message)."""
    if not isinstance(value, str):                 # a number or other object: its repr, unquoted (inf, 1e+07)
        value, quote = repr(value), False
    text = value
    form = repr if quote else str
    if len(text) <= n:
        return form(text)
    return f"{form(text[:n])}… ({len(text):,} characters)"


class Bounded(io.RawIOBase):
    """A binary stream that refuses to yield more than `limit` bytes, or a line longer than `line_limit` bytes
    (one UserError line naming the file). Each read returns at most `line_limit` bytes, so a line over the limit
    always spans a read boundary and two byte searches per read find it."""

    def __init__(self, raw, limit: int, name: str, line_limit: int = LINE_LIMIT, decompressed: bool = True):
        super().__init__()
        self.raw, self.limit, self.name, self.total = raw, limit, name, 0
        self.line_limit, self.decompressed = line_limit, decompressed
        self.lines, self.run = 0, 0                # newlines so far; bytes since the last newline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = self.raw.readinto(view[:self.line_limit])
        self.total += n or 0
        if self.total > self.limit:
            raise UserError(f"{self.name}: decompresses to more than {self.limit / 1e9:.1f} GB (a quarter of this "
                            f"machine's memory); refused. If the data is genuine, decompress it and read the plain "
                            f"file")
        if n:
            self._count_lines(bytes(view[:n]))
        return n

    def _count_lines(self, data: bytes) -> None:
        first = data.find(b"\n")
        if first < 0:
            self.run += len(data)
        else:
            self._check_line(self.run + first)
            self.lines += data.count(b"\n")
            self.run = len(data) - 1 - data.rfind(b"\n")
        self._check_line(self.run)

    def _check_line(self, length: int) -> None:
        if length > self.line_limit:
            limit = f"{self.line_limit / (1 << 20):g} MiB" if self.line_limit % (1 << 20) == 0 else \
                f"{self.line_limit:,} bytes"
            raise UserError(f"{self.name}: line {self.lines + 1} is longer than {limit}"
                            f"{' (decompressed)' if self.decompressed else ''}; refused (a broken or binary file? "
                            f"a text data file's lines are far shorter)")

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_plain(file: Path, name: str, line_limit: int = LINE_LIMIT) -> io.BufferedReader:
    """A plain (uncompressed) file as a buffered binary stream refusing a line longer than `line_limit` bytes."""
    raw = open(file, "rb", buffering=0)
    return io.BufferedReader(Bounded(raw, float("inf"), name, line_limit, decompressed=False), buffer_size=1 << 20)


def open_decompressed(file: Path, name: str, kind: str, what: str = "data file",
                      line_limit: int = LINE_LIMIT) -> io.BufferedReader:
    """The content of a compressed `file` (`kind` from `compression`) as a bounded buffered binary stream (at most
    a quarter of this machine's memory, no line over `line_limit` bytes). A zip archive must hold exactly one
    `what`, whose declared size is checked before a byte is inflated."""
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
    return io.BufferedReader(Bounded(raw, limit, name, line_limit), buffer_size=1 << 20)
