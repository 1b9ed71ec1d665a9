"""Checks shared by the file readers: the path is a regular file, every value fits float32, column names are
unique, sizes fit memory.

Each ends in one UserError line naming the file, the line (or row) and the column.
"""

from __future__ import annotations

import errno
import stat
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from mlrun.errors import UserError
from mlrun.runtime.memory import physical_bytes

FLOAT32_MAX = float(np.finfo(np.float32).max)      # 3.4028235e38: larger magnitudes become inf in float32


def memory_limit() -> int:
    """Bytes one decompressed file may reach: a quarter of this machine's physical memory (at least 1 GiB)."""
    return max((physical_bytes() or 16 << 30) // 4, 1 << 30)


def check_finite(array, file: str, columns, rows=None, *, first_line: int | None = 2) -> None:
    """Fail at the first cell of `array` (N, D) or (N,) that is ±inf or overflows float32 (|x| > 3.4e38); NaN
    (a missing value) passes.

    file: how the message names the source, e.g. "dataset.path='wine.csv'". columns: the D column names (or
    the one name of a 1-D array). rows: the 0-based data row of each array row (default 0..N-1, i.e. the
    array holds every row of the file in order). first_line: the file line of data row 0 (2 below a header,
    1 without one); None = name "row r" (1-based) instead of a line, e.g. for Parquet files.
    """
    a = np.asarray(array, dtype=np.float64)
    low, high = value_range(a)
    if np.isnan(low) or max(-low, high) <= FLOAT32_MAX:
        return                                          # the common case: two reductions, no temporaries
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(a) <= FLOAT32_MAX) & ~np.isnan(a)
    if not bad.any():
        return
    flat = int(np.argmax(bad.reshape(-1)))              # row-major: the first bad cell of the first bad row
    if a.ndim == 1:
        row, col, name = flat, 0, columns if isinstance(columns, str) else list(columns)[0]
    else:
        row, col = divmod(flat, a.shape[1])
        name = list(columns)[col]
    value = float(a.reshape(-1)[flat])
    data_row = int(rows[row]) if rows is not None else row
    where = f"line {first_line + data_row}" if first_line is not None else f"row {data_row + 1}"
    what = "infinite" if np.isinf(value) else "beyond float32's range ±3.4e38 (inf in float32)"
    raise UserError(f"{file}: {where}, column {name}: value {value!r} is {what}; fix or remove it "
                    f"({int(bad.sum()):,} such cell(s) in the file)")


def value_range(a: np.ndarray) -> tuple[float, float]:
    """(min, max) of `a` ignoring NaN; (nan, nan) when `a` is empty or all NaN. Reductions only: no temporaries."""
    if a.size == 0:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN: nanmin warns and returns NaN
        return float(np.nanmin(a)), float(np.nanmax(a))


def check_unique_columns(names, file: str) -> None:
    """Refuse a header that names a column twice: readers rename the copy ('a.1') and a duplicated target
    would leak into the features."""
    twice = [n for n, k in Counter(str(n) for n in names).items() if k > 1]
    if twice:
        raise UserError(f"{file}: the header names column(s) {', '.join(map(repr, twice))} more than once; "
                        f"give every column its own name")


def check_data_file(path, name: str):
    """`path` as a Path when it names a regular file (symlinks followed); else one UserError line: "file not
    found", "is a folder", "symlink loop", or "not a regular file (a FIFO / a character device / ...)" — reading
    a FIFO blocks forever and /dev/zero never ends. name: how the message names the file, e.g.
    "dataset.path='x.csv'"."""
    file = Path(str(path)).expanduser()
    try:
        mode = file.stat().st_mode                         # follows symlinks
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"{name}: symlink loop (a link that points back to itself); give the file itself") \
                from None
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise UserError(f"{name}: file not found") from None
        raise UserError(f"{name}: cannot read it ({e.strerror or type(e).__name__})") from None
    except RuntimeError:                                   # pathlib of some Python versions: "Symlink loop from ..."
        raise UserError(f"{name}: symlink loop (a link that points back to itself); give the file itself") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{name}: is a folder; give the data file itself")
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode) else
                "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "a special file")
        raise UserError(f"{name}: not a regular file ({kind}); give a data file")
    return file
