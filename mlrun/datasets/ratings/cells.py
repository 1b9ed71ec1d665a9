"""The rules for the cells of a ratings file.

Ids are text: kept as they appear (`007` and `7` are different users, `1.0` is not `1`), surrounding spaces
ignored. Only when every id of a column is an integer written without leading zeros or a plus sign (`0`, `7`, `-3`,
never `007`, `+7`, `-0`) and within int64 is the column held as int64 — str(id) then gives the text back exactly,
so nothing about the id changes; it only halves memory and sorts numerically.
Ratings: finite numbers with |r| ≤ 1e6 (RATING_LIMIT).
"""

from __future__ import annotations

import numpy as np

from mlrun.datasets._source import shown

RATING_LIMIT = 1e6                     # |rating| above this is refused at load (float32 normal equations stay safe)
PLAIN_INTEGER = r"0|-?[1-9][0-9]*"     # ids written like this (all of a column, within int64) are held as int64


def in_range(ratings: np.ndarray) -> np.ndarray:
    return np.isfinite(ratings) & (np.abs(ratings) <= RATING_LIMIT)


def range_message(value) -> str:
    return f"rating {shown(value)} is out of range (ratings must be finite numbers with |r| ≤ {RATING_LIMIT:g})"


class IdColumn:
    """One id column read block by block: int64 blocks while every id so far is a plain integer (the id rule),
    text (object arrays of str) from the first block that is not; int blocks before it are turned back into
    their text, which is exactly str(id) for a plain integer."""

    def __init__(self):
        self.blocks, self.text = [], False

    def add(self, column) -> bool:
        """Append an Arrow text block; False when an id is empty."""
        import pyarrow.compute as pc

        if not self.text:                          # digits only (no spaces, no empty id) or it fails
            ints = _int64(column)
            if ints is not None:
                self.blocks.append(ints)
                return True
        column = pc.utf8_trim_whitespace(column)
        if len(column) and pc.min(pc.binary_length(column)).as_py() == 0:
            return False
        if not self.text:                          # integers after trimming spaces?
            ints = _int64(column)
            if ints is not None:
                self.blocks.append(ints)
                return True
            self.text = True
            self.blocks = [b.astype(str).astype(object) for b in self.blocks]
        self.blocks.append(column.to_numpy(zero_copy_only=False))
        return True

    def array(self) -> np.ndarray:
        """The whole column; the blocks are released as they are copied (peak: the column once, not twice)."""
        blocks, self.blocks = self.blocks, []
        return concatenate(blocks) if blocks else np.empty(0, dtype=np.int64)


def concatenate(blocks: list[np.ndarray]) -> np.ndarray:
    """np.concatenate that empties `blocks` while it copies, so each block is freed once copied."""
    out = np.empty(sum(len(b) for b in blocks), dtype=np.result_type(*blocks))
    at = 0
    blocks.reverse()
    while blocks:
        block = blocks.pop()
        out[at:at + len(block)] = block
        at += len(block)
    return out


def _int64(column) -> np.ndarray | None:
    """The Arrow text column as int64 when every id is a plain integer (see `_plain`), else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pc.cast(column, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return values.to_numpy().copy() if _plain(column) else None


def _plain(column) -> bool:
    """Text that parsed as integers: is every id written as str(int) (no leading zero, '+' or '-0')? Read from
    the first two bytes of each string in Arrow's buffers (no copy of the text)."""
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        wide = pa.types.is_large_string(chunk.type)
        _, offsets, data = chunk.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int64 if wide else np.int32)[chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(data, dtype=np.uint8)
        start, length = offsets[:-1], np.diff(offsets)
        first, second = data[start], data[np.minimum(start + 1, len(data) - 1)]
        odd = (first == ord("+")) | ((first == ord("0")) & (length > 1)) | ((first == ord("-")) & (second == ord("0")))
        if odd.any():
            return False
    return True


def text_ids(cells: np.ndarray) -> np.ndarray:
    """Stripped id strings (object array) → int64 when every one is a plain integer (the rule above), else as is."""
    import pandas as pd

    if pd.Series(cells, dtype=object).str.fullmatch(PLAIN_INTEGER).all():
        try:
            return cells.astype(np.int64)
        except (ValueError, OverflowError):    # beyond int64: text
            pass
    return cells


def join_ids(chunks: list[np.ndarray]) -> np.ndarray:
    """One id column from its chunks, with the id rule applied to the whole column."""
    cells = np.concatenate([np.asarray(c, dtype=object) for c in chunks]) if chunks else np.empty(0, dtype=object)
    return text_ids(cells)


def as_text(ids: np.ndarray) -> np.ndarray:
    """Ids of either form as text (object array of str), e.g. to join an int64 column with a text one."""
    return ids.astype(str).astype(object)
