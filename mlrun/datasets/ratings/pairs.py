"""`user,item` rows to predict for (`mlrun predict` input of a model=mf run, or a DataFrame given to
Predictor.predict): ids are TEXT, exactly as in the ratings file, and map to the run's train indices.

    read_pairs(file, "input", user_ids)   # a CSV/TSV (any compression, found by magic bytes), Parquet or Feather
    pair_index(frame, user_ids, item_ids)  # (N, 2) int64 train indices, −1 = not seen in training (cold start)

Never a float: a cell is never read as a number, so `1` stays `1` whatever the other rows hold (an empty cell
or `1.5` elsewhere once made the whole column float and every id `1.0`, i.e. unknown). A row without a user or an
item is refused in one line naming it; a float column of a DataFrame is refused (`1.0` is not the id `1`); ids not
seen in training are counted in one warning and get the cold-start prediction.
Header: a text file's first line names the columns when its first cell is neither a training user id nor starts
with a digit or '-' (`userId,movieId`); otherwise it is the first row.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import numpy as np
import torch

from mlrun.datasets.ratings import source
from mlrun.errors import UserError

log = logging.getLogger("mlrun")
SEPARATORS = ("\t", ",", ";", "|")     # the first one found in the first line splits the text file


def read_pairs(path, key: str = "input", user_ids=()):
    """DataFrame of the first two columns as stripped text (object of str), one row per non-blank input row."""
    import pandas as pd

    file = Path(str(path)).expanduser()
    name = f"{key}={str(path)!r}"
    if not file.is_file():
        raise UserError(f"{name}: file not found")
    start = source.head(file)
    if start[:4] == source.PARQUET_MAGIC or start[:6] == b"ARROW1":
        return _read_columnar(file, name, parquet=start[:4] == source.PARQUET_MAGIC)
    try:
        data = source.read_bytes(file, name).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{name}: not UTF-8 text ({e.reason}); save it as UTF-8 CSV") from None
    lead = re.match(r"(?:[ \t\r]*\n)*", data).group(0)            # blank lines before the first row
    text = data[len(lead):]
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise UserError(f"{name}: no rows; give one `user,item` pair per line")
    sep = next((s for s in SEPARATORS if s in first), None)
    if sep is None:
        raise UserError(f"{name}: the first line {source.shown(first, 80)} has one column; needs two, user and item (raw ids "
                        f"as in the ratings file), separated by a tab , ; or |")
    header = _is_header(first.split(sep)[0].strip(), set(map(str, user_ids)))
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None, dtype=str,
                            keep_default_na=False, skip_blank_lines=False, compression=None)
    except pd.errors.ParserError as e:
        raise UserError(f"{name}: cannot parse ({str(e).strip().splitlines()[-1]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    first_line = lead.count("\n") + (2 if header else 1)                 # file line of data row 0
    return _ids_only(frame.fillna(""), name, first_line, sep)


def _is_header(cell: str, known: set[str]) -> bool:
    return cell not in known and not cell[:1].isdigit() and not cell.startswith("-")


def _ids_only(frame, name: str, first_line: int, sep: str):
    """The first two columns, stripped; blank lines dropped; a row missing an id refused with its line."""
    if frame.shape[1] < 2:
        raise UserError(f"{name}: needs two columns, user and item (raw ids as in the ratings file)")
    cells = frame.iloc[:, :2].apply(lambda c: c.str.strip())
    blank = frame.apply(lambda c: c.str.strip() == "").all(axis=1).to_numpy()
    missing = (cells == "").any(axis=1).to_numpy() & ~blank
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        role = "user" if cells.iloc[row, 0] == "" else "item"
        shown = sep.join(frame.iloc[row].tolist())
        raise UserError(f"{name}: line {first_line + row}: missing {role} id ({source.shown(shown, 80)}); every row needs a "
                        f"user and an item ({int(missing.sum()):,} such row(s))")
    return cells[~blank].reset_index(drop=True)


def _read_columnar(file: Path, name: str, parquet: bool):
    """The first two columns of a Parquet or Feather file as text ids (integer or text columns only)."""
    import pandas as pd
    import pyarrow as pa

    try:
        if parquet:
            import pyarrow.parquet as pq

            table = pq.read_table(file)
        else:
            import pyarrow.feather as feather

            table = feather.read_table(file)
    except Exception as e:  # noqa: BLE001 - corrupt or truncated: the file's fault
        raise UserError(f"{name}: not a readable {'Parquet' if parquet else 'Feather'} file "
                        f"({type(e).__name__}: {e})") from None
    if table.num_columns < 2:
        raise UserError(f"{name}: needs two columns, user and item (raw ids as in the ratings file)")
    out = {}
    for role, column_name in zip(("user", "item"), table.column_names[:2]):
        column = table.column(column_name)
        if not (pa.types.is_integer(column.type) or pa.types.is_string(column.type)
                or pa.types.is_large_string(column.type)):
            raise UserError(f"{name}: column {column_name!r} holds {column.type}; {role} ids must be integers or "
                            f"text (1.0 is not the id 1)")
        out[column_name] = pd.Series(column.to_pylist(), dtype=object)
    return _text_frame(pd.DataFrame(out), name)


def _text_frame(frame, name: str):
    """Integer or text columns → stripped str; missing values and float columns refused in one line."""
    import pandas as pd

    cells = {}
    for role, column_name in zip(("user", "item"), frame.columns[:2]):
        column = frame[column_name]
        if _has_floats(column):
            example = next(v for v in column if isinstance(v, float) and v == v)
            raise UserError(f"{name}: column {column_name!r} holds floats (e.g. {float(example)!r}); {role} ids are "
                            f"text or integers, as in the ratings file (1.0 is not the id 1)")
        missing = column.isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise UserError(f"{name}: row {row + 1}: missing {role} id in column {column_name!r}")
        cells[column_name] = column.astype(str).str.strip()
    return pd.DataFrame(cells)


def _has_floats(column) -> bool:
    """Does the column hold a float that is not missing (a float dtype, or a float among objects)?"""
    import pandas as pd

    if pd.api.types.is_float_dtype(column.dtype):
        return bool(column.notna().any())
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in ("string", "integer", "empty"):
        return False
    return bool(column.map(lambda v: isinstance(v, float) and v == v).any())


def pair_index(rows, user_ids, item_ids, name: str = "rows") -> torch.Tensor:
    """(N, 2) int64 (user index, item index) for the first two columns of `rows` (raw ids); −1 where an id was
    not in training (the model's cold-start prediction), counted in one warning."""
    if rows.shape[1] < 2:
        raise UserError(f"{name}: needs two columns, user and item (raw ids as in the ratings file)")
    import pandas as pd

    frame = _text_frame(rows, name)
    out = []
    for column, known in zip(frame.columns, (user_ids, item_ids)):
        out.append(pd.Index(list(known)).get_indexer(frame[column].to_numpy()))    # −1 = not seen in training
    index = np.stack(out, 1).astype(np.int64)
    unknown = (index < 0).any(axis=1)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        log.warning("%s: %s of %s row(s) name a user or item not seen in training (e.g. row %d: %s); they get "
                    "the cold-start prediction (global mean + known biases)", name, f"{int(unknown.sum()):,}",
                    f"{len(index):,}", row + 1, ",".join(frame.iloc[row].tolist()))
    return torch.from_numpy(index)
