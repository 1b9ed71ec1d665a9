"""Shared by the ratings datasets (task=ratings): read (user, item, rating) files, split, remap ids, download.

Reading (`read_ratings`): a delimited text file or, by extension (.parquet, .pq), a Parquet file.
  - Text: one typed pass of pyarrow's multithreaded CSV reader (ids as text, ratings as float64). Only when that
    pass fails, or finds a rating out of range, does a second, row-by-row pass run to say which line is bad and
    why (a file it accepts anyway, e.g. with lines of spaces, is read by that pass). Encoding: UTF-8 by default,
    a leading byte-order mark skipped; `encoding` names another (latin-1, cp1252, utf-16, ...).
  - Ids: kept as they appear, as text (`007` and `7` are different users), unless every id of the column is an
    integer written without leading zeros or a plus sign (`0`, `7`, `-3`, never `007`, `+7`, `-0`): then int64, sorted
    numerically (and must fit int64). Surrounding spaces are ignored.
  - Ratings: finite numbers with |r| ≤ 1e6 (RATING_LIMIT); anything else is refused in one line naming the
    file, the line (row for Parquet) and the column.
Splits (chosen by the dataset keys, all seeded):
  - folds > 1 (set by trainer.cv_folds): k-fold cross validation; the ratings are partitioned into `folds` parts,
    part `fold` is test, a fraction split.val of all ratings (from the other parts) is val, the rest train;
  - leave_out = k > 0: per-user leave-k-out; k random ratings of every user with more than k (2k when val) go to
    test, k more to val when split.val > 0, the rest to train;
  - else a random holdout by the fractions split.train / split.val / split.test.
Ids are remapped to contiguous indices from the TRAIN split only (index order = sorted raw ids; one hash pass,
pandas.factorize): a user or item whose ratings all fell into val/test gets index −1, and mlrun.models.MF predicts
for it from the biases and the global mean (cold start).
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import io
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.splits import check_fractions, split_indices
from mlrun.errors import UserError, check, number

RATING_LIMIT = 1e6                     # |rating| above this is refused at load (float32 normal equations stay safe)
PARQUET = (".parquet", ".pq")          # file extensions read as Parquet
PLAIN_INTEGER = r"0|-?[1-9][0-9]*"     # ids written like this (all of a column, within int64) are read as int64
BLOCK_BYTES = 16 << 20                 # bytes of text per block of the fast pass
DIAGNOSIS_ROWS = 1 << 20               # rows per chunk of the row-by-row pass (bounds its memory)


@dataclass
class RatingsData(Data):
    user_ids: list[str] = field(default_factory=list)   # raw id of each train user index
    item_ids: list[str] = field(default_factory=list)   # raw id of each train item index
    titles: dict[str, str] = field(default_factory=dict)  # raw item id → title ({} when the dataset has none)
    codes: tuple = ()              # (users, items): int32 position of every rating's raw id in `labels`, file order
    labels: tuple = ()             # (users, items): the sorted distinct raw ids of the file

    @property
    def rated(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, items): raw ids (str) of every rating in the file, for `mlrun recommend`; built on demand."""
        if not self.codes:
            return np.array([], dtype=str), np.array([], dtype=str)
        return tuple(np.asarray(labels)[codes].astype(str) for codes, labels in zip(self.codes, self.labels))

    def to(self, device) -> RatingsData:
        return dataclasses.replace(self, train=self.train.to(device), val=self.val.to(device),
                                   test=self.test.to(device))


def read_ratings(file: Path, sep: str, columns: list, header: bool, key: str = "dataset.path",
                 encoding: str = "utf-8"):
    """(users, items, ratings) from a delimited text file (or a Parquet file, by extension): raw ids (int64 when
    every id is a plain integer, else str; see the module docstring) and float64 ratings. `columns`: the user,
    item and rating columns, as 0-based indices or header names. Blank lines are skipped; a bad row ends in one
    UserError naming the file and line."""
    file = Path(file)
    if file.suffix.lower() in PARQUET:
        return _read_parquet(file, columns, key)
    codec = _codec(encoding)
    try:
        rows = _fast_csv(file, sep, columns, header, codec)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - any failure of the fast pass (pyarrow's ArrowInvalid, ...) is explained
        rows = None                    # by the row-by-row pass below, or that pass reads the file
    if rows is not None:
        return rows
    return _diagnose(file, sep, columns, header, key, codec)


def _codec(encoding: str) -> str:
    """The codec name for `encoding` (utf-8 skips a byte-order mark), or one line naming dataset.encoding."""
    try:
        name = codecs.lookup(str(encoding)).name
    except LookupError:
        raise UserError(f"dataset.encoding={encoding!r}: unknown encoding; e.g. utf-8, latin-1, cp1252, "
                        f"utf-16") from None
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def _ascii_compatible(codec: str) -> bool:
    """Does the codec write ASCII as ASCII bytes (so lines split at b"\\n")?"""
    return codec == "utf-8-sig" or "\n,:;|\t".encode(codec) == b"\n,:;|\t"


def _fast_csv(file: Path, sep: str, columns: list, header: bool, codec: str):
    """One typed pyarrow pass; None when anything is off (the row-by-row pass then says what)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not sep or "\n" in sep or "\r" in sep or '"' in sep:
        return None
    if len(sep) == 1 and (codec == "utf-8-sig" or _ascii_compatible(codec)):
        source, arrow_codec = str(file), ("utf8" if codec == "utf-8-sig" else codec)
    else:                                          # "::" → one byte the C parser can split on (file in memory)
        text = file.read_bytes().decode(codec)
        if "\x1f" in text:
            return None
        source, arrow_codec = io.BytesIO(text.replace(sep, "\x1f").encode("utf-8")), "utf8"
        sep = "\x1f"
    read = pacsv.ReadOptions(encoding=arrow_codec, autogenerate_column_names=not header, block_size=BLOCK_BYTES)
    parse = pacsv.ParseOptions(delimiter=sep)
    with pacsv.open_csv(source, read_options=read, parse_options=parse,
                        convert_options=pacsv.ConvertOptions(check_utf8=False)) as reader:
        names = reader.schema.names                # from the first block only
    picked = []
    for col in columns:
        if isinstance(col, int) and not isinstance(col, bool):
            if not 0 <= col < len(names):
                return None
            picked.append(names[col])
        elif col in names:
            picked.append(col)
        else:
            return None
    if len(set(picked)) < 3:
        return None
    if isinstance(source, io.BytesIO):
        source.seek(0)
    convert = pacsv.ConvertOptions(
        include_columns=picked, null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False,
        column_types={picked[0]: pa.string(), picked[1]: pa.string(), picked[2]: pa.float64()})
    users, items, ratings = _IdColumn(), _IdColumn(), []
    with pacsv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert) as reader:
        for batch in reader:                       # blocks of BLOCK_BYTES: memory ≈ the three columns, no text
            r = batch.column(2).to_numpy().copy()      # copies out of Arrow's pool, which then reuses the block
            if not _in_range(r).all() or not users.add(batch.column(0)) or not items.add(batch.column(1)):
                return None
            ratings.append(r)
    pa.default_memory_pool().release_unused()      # give Arrow's freed blocks back to the system
    if not ratings or sum(map(len, ratings)) == 0:
        return None
    return users.array(), items.array(), _concatenate(ratings)


class _IdColumn:
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
        return _concatenate(blocks) if blocks else np.empty(0, dtype=np.int64)


def _concatenate(blocks: list[np.ndarray]) -> np.ndarray:
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


def _text_ids(cells: np.ndarray) -> np.ndarray:
    """Stripped id strings (object array) → int64 when every one is a plain integer (the rule above), else as is."""
    import pandas as pd

    if pd.Series(cells, dtype=object).str.fullmatch(PLAIN_INTEGER).all():
        try:
            return cells.astype(np.int64)
        except (ValueError, OverflowError):    # beyond int64: text
            pass
    return cells


def _in_range(ratings: np.ndarray) -> np.ndarray:
    return np.isfinite(ratings) & (np.abs(ratings) <= RATING_LIMIT)


def _range_message(value) -> str:
    return (f"rating {value!r} is out of range (ratings must be finite numbers with |r| ≤ {RATING_LIMIT:g})")


def _diagnose(file: Path, sep: str, columns: list, header: bool, key: str, codec: str):
    """The row-by-row pass (pandas, chunks of DIAGNOSIS_ROWS lines): the first bad line ends in one UserError
    naming it; a file without one is returned as read_ratings does."""
    import pandas as pd

    if len(sep) > 1:                               # "::" → one byte for pandas' C parser (file in memory)
        try:
            text = file.read_bytes().decode(codec)
        except UnicodeDecodeError as e:
            raise _decode_error(file, key, codec, e) from None
        source, encoding, delimiter = io.BytesIO(text.replace(sep, "\x1f").encode("utf-8")), "utf-8", "\x1f"
    else:
        source, encoding, delimiter = file, codec, sep
    first = 2 if header else 1                     # file line of row 0
    users, items, ratings = [], [], []
    try:
        chunks = pd.read_csv(source, sep=delimiter, header=0 if header else None, dtype=str, keep_default_na=False,
                             skip_blank_lines=False, encoding=encoding, chunksize=DIAGNOSIS_ROWS)
        start = 0
        for df in chunks:
            names = _pick_columns(df, columns, header, file)
            result = _check_rows(df, names, columns, sep, file, key, start + first, header, codec)
            users.append(result[0])
            items.append(result[1])
            ratings.append(result[2])
            start += len(df)
    except pd.errors.ParserError as e:
        m = re.search(r"line (\d+)", str(e))
        where = f"line {m.group(1)}: " if m else ""
        raise UserError(f"{key}={str(file)!r}: {where}cannot parse ({str(e).strip().splitlines()[-1]}); "
                        f"check dataset.sep={sep!r}") from None
    except UnicodeDecodeError as e:
        raise _decode_error(file, key, codec, e) from None
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - empty file and the like: the file's fault
        raise UserError(f"{key}={str(file)!r}: not a readable ratings file ({type(e).__name__}: {e})") from None
    ratings = np.concatenate(ratings) if ratings else np.empty(0)
    if len(ratings) == 0:
        raise UserError(f"{key}={str(file)!r}: no ratings in the file")
    return _join_ids(users), _join_ids(items), ratings


def _pick_columns(df, columns: list, header: bool, file: Path) -> list:
    """The dataframe columns of the user, item and rating (None: past the last column, every row misses it)."""
    names = []
    for role, col in zip(("user", "item", "rating"), columns):
        if isinstance(col, int) and not isinstance(col, bool):
            number(f"dataset.{role}_col", col, 0, integer=True)
            names.append(df.columns[col] if col < df.shape[1] else None)
        else:
            check(header and col in df.columns, f"dataset.{role}_col", col,
                  f"not a column of {file.name}; columns are {', '.join(map(str, df.columns))}" if header else
                  "a column name needs dataset.header=true; use a 0-based index")
            names.append(col)
    return names


def _check_rows(df, names: list, columns: list, sep: str, file: Path, key: str, first_line: int, header: bool,
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
    outside = ~_in_range(rating) & ~blank & ~missing & ~unparsed
    bad = missing | unparsed | outside
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        line = _raw_line(file, row + first_line, codec) or sep.join(str(v) for v in df.iloc[row].fillna("").tolist())
        column = names[2] if header else columns[2]
        why = (f"missing user, item or rating column (needs columns {columns} separated by {sep!r})" if missing[row]
               else f"rating {cells[2].iloc[row]!r} is not a number" if unparsed[row]
               else f"{_range_message(cells[2].iloc[row])} in column {column!r}")
        raise UserError(f"{key}={str(file)!r}: line {row + first_line}: {why}: {line[:80]!r}")
    keep = ~blank
    return cells[0].to_numpy()[keep], cells[1].to_numpy()[keep], rating[keep]


def _raw_line(file: Path, number_: int, codec: str) -> str:
    """Line `number_` (1-based) of the file as written, for the message ("" for codecs that are not ASCII-like)."""
    if not _ascii_compatible(codec):
        return ""
    with open(file, "rb") as f:
        for i, raw in enumerate(f, 1):
            if i == number_:
                return raw.decode(codec, errors="replace").rstrip("\r\n").lstrip("\ufeff")
    return ""


def _join_ids(chunks: list[np.ndarray]) -> np.ndarray:
    """One id column from its chunks, with the id rule applied to the whole column."""
    cells = np.concatenate([np.asarray(c, dtype=object) for c in chunks]) if chunks else np.empty(0, dtype=object)
    return _text_ids(cells)


def _decode_error(file: Path, key: str, codec: str, error: UnicodeDecodeError) -> UserError:
    """Name the first line that does not decode (found by a line-by-line pass, for ASCII-compatible codecs)."""
    shown = "utf-8" if codec == "utf-8-sig" else codec
    where = ""
    if _ascii_compatible(codec):
        decoder = codecs.getincrementaldecoder(codec)()
        with open(file, "rb") as f:
            for number_, raw in enumerate(f, 1):
                try:
                    decoder.decode(raw)
                except UnicodeDecodeError as e:
                    where = f"line {number_}, byte {e.start + 1}: "
                    break
    return UserError(f"{key}={str(file)!r}: {where}not valid {shown} text ({error.reason}); set dataset.encoding "
                     f"to the file's encoding (e.g. latin-1, cp1252)")


def _read_parquet(file: Path, columns: list, key: str):
    """(users, items, ratings) from a Parquet file: columns by name or 0-based index; rows named 1-based."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(f"{key}={str(file)!r}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        pf = pq.ParquetFile(file)
        names = pf.schema_arrow.names
    except Exception as e:  # noqa: BLE001 - not Parquet, truncated: the file's fault
        raise UserError(f"{key}={str(file)!r}: not a readable Parquet file ({type(e).__name__}: {e})") from None
    picked = []
    for role, col in zip(("user", "item", "rating"), columns):
        if isinstance(col, int) and not isinstance(col, bool):
            number(f"dataset.{role}_col", col, 0, len(names) - 1, integer=True)
            picked.append(names[col])
        else:
            check(col in names, f"dataset.{role}_col", col,
                  f"not a column of {file.name}; columns are {', '.join(names)}")
            picked.append(col)
    meta = pf.metadata
    wanted = [names.index(n) for n in picked]
    size = sum(meta.row_group(g).column(c).total_uncompressed_size for g in range(meta.num_row_groups)
               for c in wanted if c < meta.row_group(g).num_columns)
    limit = _memory_bytes() // 2
    if size > limit:
        raise UserError(f"{key}={str(file)!r}: the three columns take {size / 2**30:.1f} GiB uncompressed, more "
                        f"than half this machine's memory ({limit / 2**30:.1f} GiB); not read")
    try:
        table = pf.read(columns=list(dict.fromkeys(picked)))
    except Exception as e:  # noqa: BLE001 - corrupt pages: the file's fault
        raise UserError(f"{key}={str(file)!r}: not a readable Parquet file ({type(e).__name__}: {e})") from None
    if table.num_rows == 0:
        raise UserError(f"{key}={str(file)!r}: no ratings in the file")
    out = []
    for role, name in zip(("user", "item", "rating"), picked):
        column = table.column(name)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise UserError(f"{key}={str(file)!r}: row {row + 1}: missing {role} (null in column {name!r})")
        kind = column.type
        if role == "rating":
            text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
            if text:                               # numbers written as text: parsed, the bad one named
                import pandas as pd

                cells = pd.Series(pc.utf8_trim_whitespace(column).to_numpy(zero_copy_only=False), dtype=object)
                values = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64)
                unparsed = np.isnan(values) & ~cells.str.lower().isin(["nan", "+nan", "-nan"]).to_numpy()
                if unparsed.any():
                    row = int(np.flatnonzero(unparsed)[0])
                    raise UserError(f"{key}={str(file)!r}: row {row + 1}: rating {cells[row]!r} in column "
                                    f"{name!r} is not a number")
            elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
                values = pc.cast(column, pa.float64()).to_numpy()
            else:
                raise UserError(f"{key}={str(file)!r}: column {name!r} holds {kind}; ratings must be numbers")
            outside = ~_in_range(values)
            if outside.any():
                row = int(np.flatnonzero(outside)[0])
                raise UserError(f"{key}={str(file)!r}: row {row + 1}: {_range_message(float(values[row]))} "
                                f"in column {name!r}")
            out.append(values)
        elif pa.types.is_integer(kind):
            out.append(pc.cast(column, pa.int64()).to_numpy())
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            ids = _IdColumn()
            if not ids.add(column):
                row = int(np.flatnonzero(pc.binary_length(pc.utf8_trim_whitespace(column)).to_numpy() == 0)[0])
                raise UserError(f"{key}={str(file)!r}: row {row + 1}: missing {role} (empty text in column {name!r})")
            out.append(ids.array())
        else:
            raise UserError(f"{key}={str(file)!r}: column {name!r} holds {kind}; {role} ids must be integers or text")
    return tuple(out)


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def read_titles(file: Path, sep: str) -> dict[str, str]:
    """{raw item id: title} from u.item (`|`) or movies.dat (`::`): id and title are the first two fields."""
    titles = {}
    for line in Path(file).read_text(encoding="latin-1").splitlines():
        parts = line.split(sep)
        if len(parts) >= 2:
            titles[parts[0].strip()] = parts[1].strip()
    return titles


def split_ratings(users: np.ndarray, split: dict, leave_out: int, folds: int, fold: int, seed: int):
    """Index arrays (train, val, test) into the ratings; see the module docstring for the three schemes.
    `users`: any per-rating key that groups the ratings by user (raw ids or their codes)."""
    n = len(users)
    fractions = check_fractions(split)
    number("dataset.leave_out", leave_out, 0, integer=True)
    number("dataset.folds", folds, 1, integer=True)
    number("dataset.fold", fold, 0, folds - 1, integer=True)
    rng = np.random.default_rng(seed)
    if folds > 1:
        check(folds <= n, "dataset.folds", folds, f"must be ≤ the number of ratings ({n})")
        part = np.empty(n, dtype=np.int64)
        part[rng.permutation(n)] = np.arange(n) % folds           # fold sizes differ by at most one
        test = np.flatnonzero(part == fold)
        rest = rng.permutation(np.flatnonzero(part != fold))
        n_val = min(int(round(fractions[1] * n)), len(rest) - 1)
        return np.sort(rest[n_val:]), np.sort(rest[:n_val]), test
    if leave_out > 0:
        k = leave_out
        n_out = 2 * k if fractions[1] > 0 else k
        order = np.lexsort((rng.random(n), users))                 # by user, random within a user
        sorted_users = users[order]
        starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
        counts = np.diff(np.r_[starts, n])
        rank = np.arange(n) - np.repeat(starts, counts)            # position within the user's ratings
        eligible = np.repeat(counts > n_out, counts)               # users keep at least one train rating
        test = order[eligible & (rank < k)]
        val = order[eligible & (rank >= k) & (rank < n_out)] if fractions[1] > 0 else order[:0]
        held = np.zeros(n, dtype=bool)
        held[test], held[val] = True, True
        return np.flatnonzero(~held), np.sort(val), np.sort(test)
    return split_indices(np.zeros(n), fractions, seed, stratify=False)


def grouplens(root: str, *, name: str, folder: str, ratings_file: str, sep: str, titles_file: str, titles_sep: str,
              url: str, md5: str, split: dict, leave_out: int, folds: int, fold: int, seed: int,
              download: bool) -> RatingsData:
    """A GroupLens MovieLens release: `root/ratings_file` (user, item, rating, timestamp; downloaded from `url`
    with an MD5 check when missing and `download`), titles from `root/titles_file` when present (latin-1, as
    GroupLens writes them); split and remapped by `ratings_data`."""
    file = locate(root, ratings_file, url, md5, folder, download)
    users, items, ratings = read_ratings(file, sep=sep, columns=[0, 1, 2], header=False, key="dataset.root",
                                         encoding="latin-1")
    title_path = Path(file).with_name(titles_file)
    titles = read_titles(title_path, titles_sep) if title_path.is_file() else {}
    return ratings_data(users, items, ratings, name=name, split=split, leave_out=leave_out, folds=folds, fold=fold,
                        seed=seed, titles=titles)


def ratings_data(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, *, name: str, split: dict,
                 leave_out: int = 0, folds: int = 1, fold: int = 0, seed: int = 0,
                 titles: dict | None = None, fixed_test: np.ndarray | None = None) -> RatingsData:
    """Split the ratings, remap raw ids to train indices (−1 = unseen in train), return tensors + spec.
    `fixed_test`: indices of the test ratings (a separate test file); the others are split into train/val."""
    user_codes, user_labels = _factorize(users)                 # int32 codes when they fit (half the memory)
    item_codes, item_labels = _factorize(items)
    ratings32 = ratings.astype(np.float32)                      # the splits' y (float32 like every Split)
    if fixed_test is None:
        tr, va, te = split_ratings(user_codes, split, leave_out, folds, fold, seed)
    else:
        held = np.zeros(len(users), dtype=bool)
        held[fixed_test] = True
        main = np.flatnonzero(~held)
        tr, va, _ = split_ratings(user_codes[main], split, leave_out, folds, fold, seed)
        tr, va, te = main[tr], main[va], np.asarray(fixed_test)
    check(len(tr) > 0, "dataset.split", split, "leaves no train ratings")
    user_index, user_ids = _train_index(user_codes[tr], user_labels)
    item_index, item_ids = _train_index(item_codes[tr], item_labels)

    def part(idx: np.ndarray) -> Split:
        x = np.empty((len(idx), 2), dtype=np.int64)                                          # (N, 2)
        x[:, 0], x[:, 1] = user_index[user_codes[idx]], item_index[item_codes[idx]]
        return Split(torch.from_numpy(x), torch.from_numpy(ratings32[idx]))

    spec = DataSpec(input_shape=(2,), n_outputs=1, task="ratings", name=name, n_users=len(user_ids),
                    n_items=len(item_ids), n_train=len(tr), rating_range=[float(ratings.min()), float(ratings.max())])
    return RatingsData(part(tr), part(va), part(te), spec, user_ids=user_ids, item_ids=item_ids, titles=titles or {},
                       codes=(user_codes, item_codes), labels=(user_labels, item_labels))


def _factorize(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, labels): labels = the sorted distinct ids, ids == labels[codes]; one hash pass, no Python loop."""
    import pandas as pd

    codes, labels = pd.factorize(np.asarray(ids), sort=True)
    return (codes.astype(np.int32) if len(labels) < 2 ** 31 else codes), np.asarray(labels)


def _train_index(train_codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(code → train index or −1, raw ids of the train indices in sorted order)."""
    seen = np.zeros(len(labels), dtype=bool)
    seen[train_codes] = True
    index = np.where(seen, np.cumsum(seen) - 1, -1).astype(np.int64)
    return index, labels[seen].astype(str).tolist()


def fetch(url: str, md5: str, root: Path, member: str) -> None:
    """Download the archive at `url`, check its MD5, extract its folder `member` (e.g. ml-100k) as `root`."""
    import urllib.request

    root = Path(root)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as f:
                shutil.copyfileobj(response, f)
        except Exception as e:  # noqa: BLE001 - no network, proxy, HTTP errors end the same way
            raise UserError(f"dataset.download=true: cannot download {url} ({type(e).__name__}: {e}); "
                            f"put the files under {root} instead") from None
        digest = hashlib.md5(archive.read_bytes()).hexdigest()
        if digest != md5:
            raise UserError(f"dataset.download=true: {url} has MD5 {digest}, expected {md5}; not extracted")
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        root.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(Path(tmp) / member, root, dirs_exist_ok=True)


def locate(root: str, filename: str, url: str, md5: str, member: str, download: bool) -> Path:
    """`root/filename`, downloaded first when missing and `download`, else one line saying what to put where."""
    root_path = Path(str(root)).expanduser()
    if not (root_path / filename).is_file():
        if not download:
            raise UserError(f"dataset.root={str(root_path)!r}: {filename} not found; put the {member} files there "
                            f"(from {url}), set MLRUN_DATA_DIR to a folder holding {member}/, or pass "
                            f"dataset.download=true")
        fetch(url, md5, root_path, member)
    return root_path / filename
