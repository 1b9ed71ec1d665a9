"""The row-by-row pass over a delimited ratings file (pandas, chunks of DIAGNOSIS_ROWS lines): the first bad line
ends in one UserError naming the file, the line and why; a file without one is returned as read_ratings does.
It runs only when the fast pass (read.py) refused the file."""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from pathlib import Path

import numpy as np

from mlrun.datasets.ratings import source
from mlrun.datasets.ratings.cells import in_range, join_ids, range_message
from mlrun.errors import UserError, check, number

DIAGNOSIS_ROWS = 1 << 20               # rows per chunk (bounds the pass's memory)
UNIT = "\x1f"                          # one byte standing in for a multi-character separator ("::")


def diagnose(file: Path, sep: str, columns: list, header: bool, key: str, codec: str):
    """(users, items, ratings) as read_ratings returns them, or the UserError of the first bad line."""
    import pandas as pd

    name = f"{key}={str(file)!r}"
    users, items, ratings = [], [], []
    try:
        with _text_source(file, sep, codec, name) as (stream, encoding, delimiter):
            chunks = pd.read_csv(stream, sep=delimiter, header=0 if header else None, dtype=str,
                                 keep_default_na=False, skip_blank_lines=False, encoding=encoding,
                                 compression=None, chunksize=DIAGNOSIS_ROWS)
            start, first = 0, 2 if header else 1                # file line of row 0
            for df in chunks:
                names = _pick_columns(df, columns, header, file)
                found = _check_rows(df, names, columns, sep, file, name, start + first, header, codec)
                for out, part in zip((users, items, ratings), found):
                    out.append(part)
                start += len(df)
    except pd.errors.ParserError as e:
        m = re.search(r"line (\d+)", str(e))
        where = f"line {m.group(1)}: " if m else ""
        raise UserError(f"{name}: {where}cannot parse ({str(e).strip().splitlines()[-1]}); "
                        f"check dataset.sep={sep!r}") from None
    except UnicodeDecodeError as e:
        raise decode_error(file, name, codec, e) from None
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - empty file, corrupt stream and the like: the file's fault
        raise UserError(f"{name}: not a readable ratings file ({type(e).__name__}: {e})") from None
    ratings = np.concatenate(ratings) if ratings else np.empty(0)
    if len(ratings) == 0:
        raise UserError(f"{name}: no ratings in the file")
    return join_ids(users), join_ids(items), ratings


@contextlib.contextmanager
def _text_source(file: Path, sep: str, codec: str, name: str):
    """(binary stream, its encoding, the delimiter pandas splits on): the decompressed file, or for a
    multi-character separator ("::") its text in memory with the separator replaced by one byte."""
    if len(sep) > 1:
        try:
            text = source.read_bytes(file, name).decode(codec)
        except UnicodeDecodeError as e:
            raise decode_error(file, name, codec, e) from None
        yield io.BytesIO(text.replace(sep, UNIT).encode("utf-8")), "utf-8", UNIT
        return
    with source.open_binary(file, name) as stream:
        yield stream, codec, sep


def _pick_columns(df, columns: list, header: bool, file: Path) -> list:
    """The dataframe columns of the user, item and rating (None: past the last column, every row misses it)."""
    names = []
    for role, col in zip(("user", "item", "rating"), columns):
        if isinstance(col, int) and not isinstance(col, bool):
            number(f"dataset.{role}_col", col, 0, integer=True)
            names.append(df.columns[col] if col < df.shape[1] else None)
        else:
            listed = ", ".join(source.shown(c, quote=False) for c in df.columns[:10]) + (", ..." if df.shape[1] > 10 else "")
            check(header and col in df.columns, f"dataset.{role}_col", col,
                  f"not a column of {file.name}; columns are {listed}" if header else
                  "a column name needs dataset.header=true; use a 0-based index")
            names.append(col)
    return names


def _check_rows(df, names: list, columns: list, sep: str, file: Path, name: str, first_line: int, header: bool,
                codec: str):
    """(user cells, item cells, ratings) of one chunk without its blank lines, or the UserError of its first bad
    line (`first_line`: the file line of the chunk's row 0)."""
    import pandas as pd

    cells = [df[n].fillna("").astype(str).str.strip() if n is not None else pd.Series([""] * len(df))
             for n in names]
    blank = df.fillna("").astype(str).apply(lambda c: c.str.strip() == "").all(axis=1).to_numpy()
    rating = pd.to_numeric(cells[2], errors="coerce").to_numpy(np.float64)
    missing = ((cells[0] == "") | (cells[1] == "") | (cells[2] == "")).to_numpy() & ~blank
    unparsed = np.isnan(rating) & ~blank & ~missing & ~cells[2].str.lower().isin(["nan", "+nan", "-nan"]).to_numpy()
    outside = ~in_range(rating) & ~blank & ~missing & ~unparsed
    bad = missing | unparsed | outside
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        line = raw_line(file, row + first_line, codec, name) or sep.join(str(v) for v in df.iloc[row].fillna("").tolist())
        column = names[2] if header else columns[2]
        why = (f"missing user, item or rating column (needs columns {columns} separated by {sep!r})" if missing[row]
               else f"rating {source.shown(cells[2].iloc[row])} is not a number" if unparsed[row]
               else f"{range_message(cells[2].iloc[row])} in column {column!r}")
        raise UserError(f"{name}: line {row + first_line}: {why}: {source.shown(line, 80)}")
    keep = ~blank
    return cells[0].to_numpy()[keep], cells[1].to_numpy()[keep], rating[keep]


def raw_line(file: Path, number_: int, codec: str, name: str) -> str:
    """Line `number_` (1-based) of the (decompressed) file as written, for the message ("" for codecs that are
    not ASCII-like)."""
    if not source.ascii_compatible(codec):
        return ""
    with source.open_binary(file, name) as f:
        for i, raw in enumerate(f, 1):
            if i == number_:
                return raw.decode(codec, errors="replace").rstrip("\r\n").lstrip("\ufeff")
    return ""


def decode_error(file: Path, name: str, codec: str, error: UnicodeDecodeError) -> UserError:
    """Name the first line that does not decode (found by a line-by-line pass, for ASCII-compatible codecs)."""
    shown = "utf-8" if codec == "utf-8-sig" else codec
    where = ""
    if source.ascii_compatible(codec):
        decoder = codecs.getincrementaldecoder(codec)()
        with source.open_binary(file, name) as f:
            for number_, raw in enumerate(f, 1):
                try:
                    decoder.decode(raw)
                except UnicodeDecodeError as e:
                    where = f"line {number_}, byte {e.start + 1}: "
                    break
    return UserError(f"{name}: {where}not valid {shown} text ({error.reason}); set dataset.encoding "
                     f"to the file's encoding (e.g. latin-1, cp1252)")
