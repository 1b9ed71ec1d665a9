"""read_times: the timestamp column of a ratings file, for dataset.split_by=time (read only then).

Numbers (e.g. Unix seconds, as MovieLens writes them) are kept as float64; otherwise every cell must parse as a
date/time (ISO 8601, e.g. 2024-03-01 12:00:00), held as seconds since 1970 (UTC) — the units of Unix
timestamps, so a dataset.cut date compares with either. An empty or unparseable cell ends
in one UserError naming the line.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from mlrun.datasets.ratings import source
from mlrun.errors import UserError

PARQUET = (".parquet", ".pq")


def read_times(file: Path, sep: str, column, header: bool, key: str, encoding: str, n: int) -> np.ndarray:
    """(n,) float64 times of `column` (0-based index or header name), one per rating row of `file`."""
    import pandas as pd

    file, name = Path(file), f"{key}={str(file)!r}"
    if file.suffix.lower() in PARQUET or source.head(file, 4) == source.PARQUET_MAGIC:
        frame = pd.read_parquet(file)
        cells = _pick(frame, column, name)
    else:
        text = source.read_bytes(file, name).decode(source.codec(encoding))
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None, dtype=str,
                            keep_default_na=False, engine="c" if len(sep) == 1 else "python")
        cells = _pick(frame, column, name)
    if len(cells) != n:
        raise UserError(f"{name}: the timestamp column has {len(cells)} rows, the ratings {n}")
    return _parse(cells.astype(str).str.strip(), name, 2 if header else 1)


def _pick(frame, column, name: str):
    if isinstance(column, int) and not isinstance(column, bool):
        if not 0 <= column < frame.shape[1]:
            raise UserError(f"dataset.timestamp_col={column}: {name} has {frame.shape[1]} columns (0-based index)")
        return frame.iloc[:, column]
    if column not in frame.columns:
        raise UserError(f"dataset.timestamp_col={column!r}: not a column of {name} (columns: "
                        f"{', '.join(source.shown(c, quote=False) for c in frame.columns[:10])})")
    return frame[column]


def _parse(cells, name: str, first_line: int) -> np.ndarray:
    """Numbers, else date/times; the first cell that is neither is named with its line."""
    import pandas as pd

    numbers = pd.to_numeric(cells, errors="coerce")
    if numbers.notna().all() and np.isfinite(numbers.to_numpy(dtype=float)).all():
        return numbers.to_numpy(dtype=np.float64)
    dates = pd.to_datetime(cells, errors="coerce", utc=True)
    bad = dates.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise UserError(f"{name}: line {row + first_line}: timestamp {source.shown(cells.iloc[row])} is neither a number nor a "
                        f"date/time (e.g. 1997-12-04 15:55:49)")
    epoch = pd.Timestamp(0, tz="UTC")
    return (dates - epoch).dt.total_seconds().to_numpy(dtype=np.float64)   # seconds since 1970, as Unix timestamps


def parse_cut(cut) -> float:
    """dataset.cut as a time in the units read_times gives: a number as it is, text as a date/time (seconds since
    1970, UTC)."""
    import pandas as pd

    if isinstance(cut, (int, float)) and not isinstance(cut, bool):
        return float(cut)
    stamp = pd.to_datetime(str(cut), errors="coerce", utc=True)
    if pd.isna(stamp):
        raise UserError(f"dataset.cut={cut!r}: neither a number nor a date/time (e.g. 1998-03-01)")
    return float(stamp.timestamp())
