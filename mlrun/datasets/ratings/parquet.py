"""read_ratings for Parquet files: the user, item and rating columns by name or 0-based index; rows named
1-based in messages. Integer id columns stay int64, text ids follow the id rule of cells.py, other id types
(floats, dates) are refused; ratings may be numbers or numbers written as text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlrun.datasets._source import shown
from mlrun.datasets.ratings.cells import IdColumn, in_range, range_message
from mlrun.errors import UserError, check, number
from mlrun.runtime.memory import physical_bytes


def read_parquet(file: Path, columns: list, key: str):
    """(users, items, ratings) from a Parquet file; every problem is one UserError naming the file."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(f"{key}={str(file)!r}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    name = f"{key}={str(file)!r}"
    try:
        pf = pq.ParquetFile(file)
        names = pf.schema_arrow.names
    except Exception as e:  # noqa: BLE001 - not Parquet, truncated: the file's fault
        raise UserError(f"{name}: not a readable Parquet file ({type(e).__name__}: {e})") from None
    picked = _pick(names, columns, file)
    _check_size(pf, [names.index(n) for n in picked], name)
    try:
        table = pf.read(columns=list(dict.fromkeys(picked)))
    except Exception as e:  # noqa: BLE001 - corrupt pages: the file's fault
        raise UserError(f"{name}: not a readable Parquet file ({type(e).__name__}: {e})") from None
    if table.num_rows == 0:
        raise UserError(f"{name}: no ratings in the file")
    out = []
    for role, column_name in zip(("user", "item", "rating"), picked):
        column = table.column(column_name)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise UserError(f"{name}: row {row + 1}: missing {role} (null in column {column_name!r})")
        read = _ratings if role == "rating" else _ids
        out.append(read(column, role, column_name, name))
    return tuple(out)


def _pick(names: list[str], columns: list, file: Path) -> list[str]:
    picked = []
    for role, col in zip(("user", "item", "rating"), columns):
        if isinstance(col, int) and not isinstance(col, bool):
            number(f"dataset.{role}_col", col, 0, len(names) - 1, integer=True)
            picked.append(names[col])
        else:
            check(col in names, f"dataset.{role}_col", col,
                  f"not a column of {file.name}; columns are {', '.join(names)}")
            picked.append(col)
    return picked


def _check_size(pf, wanted: list[int], name: str) -> None:
    """Refuse columns whose uncompressed size exceeds half this machine's memory, before reading them."""
    meta = pf.metadata
    size = sum(meta.row_group(g).column(c).total_uncompressed_size for g in range(meta.num_row_groups)
               for c in wanted if c < meta.row_group(g).num_columns)
    limit = (physical_bytes() or 1 << 40) // 2
    if size > limit:
        raise UserError(f"{name}: the three columns take {size / 2**30:.1f} GiB uncompressed, more than half this "
                        f"machine's memory ({limit / 2**30:.1f} GiB); not read")


def _ratings(column, role: str, column_name: str, name: str) -> np.ndarray:
    """float64 ratings: numbers, or numbers written as text (the first one that is not is named)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        cells = pd.Series(pc.utf8_trim_whitespace(column).to_numpy(zero_copy_only=False), dtype=object)
        values = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64)
        unparsed = np.isnan(values) & ~cells.str.lower().isin(["nan", "+nan", "-nan"]).to_numpy()
        if unparsed.any():
            row = int(np.flatnonzero(unparsed)[0])
            raise UserError(f"{name}: row {row + 1}: rating {shown(cells[row])} in column {column_name!r} is not a number")
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = pc.cast(column, pa.float64()).to_numpy()
    else:
        raise UserError(f"{name}: column {column_name!r} holds {kind}; ratings must be numbers")
    outside = ~in_range(values)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise UserError(f"{name}: row {row + 1}: {range_message(float(values[row]))} in column {column_name!r}")
    return values


def _ids(column, role: str, column_name: str, name: str) -> np.ndarray:
    """int64 for an integer column; text columns by the id rule; anything else (floats: 1.0 is not the id 1)
    refused."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_integer(kind):
        try:
            return pc.cast(column, pa.int64()).to_numpy()
        except pa.ArrowInvalid:                    # uint64 beyond int64: the ids as text
            return column.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        ids = IdColumn()
        if not ids.add(column):
            row = int(np.flatnonzero(pc.binary_length(pc.utf8_trim_whitespace(column)).to_numpy() == 0)[0])
            raise UserError(f"{name}: row {row + 1}: missing {role} (empty text in column {column_name!r})")
        return ids.array()
    raise UserError(f"{name}: column {column_name!r} holds {kind}; {role} ids must be integers or text")
