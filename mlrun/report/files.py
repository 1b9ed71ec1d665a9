"""Bounded readers of the untrusted files a report reads from a run folder: summary.json, metrics.csv,
.hydra/*.yaml and error.txt.

A run folder may come from anyone (a copied sweep, a half-written disk, a prank), so each reader checks the file's
size before reading (a 3 GB sparse summary.json is refused from its stat, not read), reads at most that many
bytes, decodes strict UTF-8 and bounds the nesting of what it parses (100,000 nested brackets are refused before
the parser recurses). Anything wrong raises `Unreadable` with one line naming the file and why; the report then
skips that run and says so.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
from itertools import accumulate
from pathlib import Path

JSON_MAX = 4 << 20          # bytes of summary.json (a run's is ~5 KB; a cross-validation one with folds ~50 KB)
YAML_MAX = 1 << 20          # bytes of each .hydra/*.yaml (~10 KB)
CSV_MAX = 16 << 20          # bytes of metrics.csv: one row per epoch, ~100-200 bytes a row → ~100,000 epochs
CSV_COLUMNS = 1000          # columns of metrics.csv (a run logs ~10)
TEXT_MAX = 64 << 10         # bytes of error.txt shown (the rest is cut; it is free text, never refused)
DEPTH_MAX = 32              # nesting of lists/dicts in a JSON or YAML file (a summary nests 3 deep)
NODES_MAX = 200_000         # values in a parsed YAML file, aliases counted each time they are used ("billion laughs")


class Unreadable(Exception):
    """A run's file that the report cannot use; str(e) is one line: '<file>: <why>'."""

    def __init__(self, path, why: str):
        super().__init__(f"{path}: {why}")
        self.path, self.why = Path(path), why


def read_bytes(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (checked from its stat first, then while reading)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(path, "not a regular file")
        if info.st_size > limit:
            raise Unreadable(path, f"{info.st_size:,} bytes, more than the {limit:,} a report reads")
        with open(path, "rb") as f:
            data = f.read(limit + 1)        # the file may have grown since the stat
    except OSError as e:
        raise Unreadable(path, f"cannot read it ({e.strerror or e})") from None
    if len(data) > limit:
        raise Unreadable(path, f"more than the {limit:,} bytes a report reads")
    return data


def read_text(path: Path, limit: int, empty_ok: bool = False) -> str:
    """Strict UTF-8 text of a file (`read_bytes`); empty or whitespace-only files are refused unless `empty_ok`."""
    data = read_bytes(path, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Unreadable(path, f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None
    if not text.strip() and not empty_ok:
        raise Unreadable(path, "empty file")
    return text


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _bracket_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text, strings left out; a linear scan that cannot recurse."""
    brackets = re.sub(r"[^\[\]{}]", "", _JSON_STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def _check_shape(path: Path, value, depth_max: int = DEPTH_MAX, nodes_max: int = NODES_MAX) -> None:
    """Refuse a parsed value nested deeper than `depth_max` or with more than `nodes_max` values (iterative)."""
    stack, nodes = [(value, 1)], 0
    while stack:
        v, depth = stack.pop()
        nodes += 1
        if depth > depth_max:
            raise Unreadable(path, f"nested more than {depth_max} levels deep")
        if nodes > nodes_max:
            raise Unreadable(path, f"more than {nodes_max:,} values (repeated YAML aliases?)")
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
        stack.extend((c, depth + 1) for c in children)


def read_json_object(path: Path, limit: int = JSON_MAX) -> dict:
    """A JSON file whose top level is an object, size and nesting bounded."""
    text = read_text(path, limit)
    if _bracket_depth(text) > DEPTH_MAX:
        raise Unreadable(path, f"nested more than {DEPTH_MAX} levels deep")
    try:
        value = json.loads(text)
    except RecursionError:              # not reached after the depth scan; kept so no input can recurse out
        raise Unreadable(path, "nested too deeply") from None
    except ValueError as e:
        raise Unreadable(path, f"not JSON ({e})") from None
    if not isinstance(value, dict):
        raise Unreadable(path, f"a JSON {type(value).__name__}, expected an object {{...}}")
    _check_shape(path, value)
    return value


def read_yaml(path: Path, limit: int = YAML_MAX):
    """A YAML file (safe loader; libyaml's when installed: C speed, its own 1000-level nesting limit), size,
    nesting and alias expansion bounded; None when it does not exist."""
    import yaml

    if not os.path.lexists(path):
        return None
    text = read_text(path, limit, empty_ok=True)      # an empty YAML file is null
    try:
        value = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except RecursionError:              # the pure-Python composer recurses once per nesting level
        raise Unreadable(path, "nested too deeply") from None
    except yaml.YAMLError as e:
        why = "nested too deeply" if "nesting depth" in str(e) else f"not YAML ({' '.join(str(e).split())})"
        raise Unreadable(path, why) from None
    _check_shape(path, value)
    return value


def read_metrics_csv(path: Path, limit: int = CSV_MAX):
    """metrics.csv as a DataFrame of numbers with an `epoch` column; None when it does not exist.
    Every row has the header's number of fields and every cell is a number or blank (NaN): the plots and the
    best-epoch losses read them as such."""
    import pandas as pd

    columns = read_metrics_columns(path, limit)
    return None if columns is None else pd.DataFrame(columns, columns=list(columns))


def read_metrics_columns(path: Path, limit: int = CSV_MAX) -> dict[str, list[float]] | None:
    """metrics.csv as {column: its numbers} (the checks of `read_metrics_csv`), without pandas (`mlrun compare`
    of two runs does not pay pandas' ~0.5 s import)."""
    if not os.path.lexists(path):
        return None
    reader = csv.reader(io.StringIO(read_text(path, limit)), strict=True)
    try:
        header = next(reader)
        if len(header) > CSV_COLUMNS:
            raise Unreadable(path, f"more than {CSV_COLUMNS} columns")
        if len(set(header)) < len(header) or "epoch" not in header:
            raise Unreadable(path, f"the header needs an 'epoch' column and no name twice (header: "
                                   f"{', '.join(header[:10])[:200]})")
        columns: list[list[float]] = [[] for _ in header]
        for row in reader:
            if not row:
                continue                                        # a blank line
            if len(row) != len(header):
                raise Unreadable(path, f"line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
            for name, values, cell in zip(header, columns, row):
                values.append(_number(path, cell, reader.line_num, name))
    except csv.Error as e:
        raise Unreadable(path, f"not CSV (line {reader.line_num}: {e})") from None
    return dict(zip(header, columns))


def _number(path: Path, cell: str, line: int, column: str) -> float:
    """A CSV cell as a float (blank: NaN)."""
    if not cell.strip():
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise Unreadable(path, f"line {line}, column {column}: not a number: {cell[:40]!r}") from None


def read_error(path: Path, limit: int = TEXT_MAX) -> str:
    """error.txt's text (free text: its first `limit` bytes, undecodable bytes replaced); "" without the file."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return "(error.txt is not a regular file)"
        with open(path, "rb") as f:
            data = f.read(limit)
    except FileNotFoundError:
        return ""
    except OSError as e:
        return f"(error.txt cannot be read: {e.strerror or e})"
    text = data.decode("utf-8", errors="replace").strip()
    return text + (" …" if info.st_size > limit else "")
