"""Read a user's table file into a pandas DataFrame: CSV/TSV/any delimiter (sniffed when not given), gzip/bz2/xz/zip
compressed CSV, Parquet and Feather (pyarrow). Used by `dataset=table` for its files and by prediction for new rows.

The format comes from the file's first bytes (PAR1 = Parquet, ARROW1/FEA1 = Feather, gzip/bz2/xz/zip magic =
compressed text), not from its name. Compressed text is decompressed in a stream that stops at a quarter of this
machine's memory (a small .gz can expand to terabytes); Parquet's declared uncompressed size is checked the same way
before reading.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import lzma
import warnings
import zipfile
import zlib
from pathlib import Path

import pandas as pd

from mlrun.datasets._source import compression as detect_compression, open_decompressed
from mlrun.datasets._checks import check_data_file, check_unique_columns, memory_limit
from mlrun.errors import UserError

SEPARATORS = ("\t", ";", ",", "|")   # sniffed candidates; a tie in field count goes to the earlier one
SAMPLE = 1 << 16                     # bytes of (decompressed) text the separator is sniffed from
SOURCE = "mlrun_source"              # frame.attrs key: {"first_line": line of data row 0, or None = rows}
MAX_COLUMNS = 20_000                 # columns a file may have (dataset.max_columns): counted from the first line or
                                     # the schema before parsing; a 1,000,000-column CSV took 537 s and 3 GB to read
LINE_LIMIT = 16 << 20                # bytes of one line of compressed text (MAX_COLUMNS cells of ~800 bytes)


def read_table(path, sep: str | None = None, header: bool | str = True, encoding: str = "utf-8-sig",
               na_values=None, *, key: str = "dataset.path", max_columns: int = MAX_COLUMNS) -> pd.DataFrame:
    """The rows of `path` as a DataFrame with string column names ("0", "1", ... when `header` is false).

    sep: the CSV field separator; None = sniffed from the first lines among tab ; , | ("\\t" or "tab" = a tab).
    header: the first line names the columns (CSV only); "auto" (not a user value: `mlrun predict` of a built-in
    table, all numbers): only when one of its cells is not a number, else it is a row.
    encoding: of CSV text; the default reads UTF-8 with or without a byte-order mark. na_values: extra cell texts
    meaning "missing" besides pandas' (empty, NA, NaN, ...).
    key: how messages name the file, e.g. "dataset.test_path". max_columns: more columns are refused before parsing.
    Column names are stripped of surrounding spaces ("a, b" names a column "b"). Every problem (missing or empty
    file, unreadable text, duplicated column names, too large) is one UserError.
    frame.attrs["mlrun_source"]["first_line"] is the file line of data row 0 (None for Parquet/Feather: rows).
    """
    name = f"{key}={str(path)!r}" if key else repr(str(path))
    if not isinstance(header, bool) and header != "auto":
        raise UserError(f"{_option(key, 'header')}={header!r}: must be true (the first line names the columns) "
                        f"or false")
    file = check_data_file(path, name)                    # a FIFO, /dev/zero, a symlink loop: one line, not a hang
    width = _Width(max_columns, name, _option(key, "max_columns"))
    with open(file, "rb") as f:
        head = f.read(8)
    if not head:
        raise UserError(f"{name}: empty file")
    if head[:4] == b"PAR1":
        frame, first_line = _read_parquet(file, name, width), None
    elif head[:6] == b"ARROW1" or head[:4] == b"FEA1":
        frame, first_line = _read_feather(file, name, width, v1=head[:4] == b"FEA1"), None
    else:
        compression = detect_compression(start=head)
        frame, header = _read_csv(file, name, compression, _separator(sep, key), header, _encoding(encoding, key),
                                  _na_values(na_values, key), key, width)
        first_line = 2 if header else 1
    frame.columns = [str(c).strip() for c in frame.columns]     # "a, b" headers: the name is "b", not " b"
    check_unique_columns(frame.columns, name)
    if len(frame) == 0:
        raise UserError(f"{name}: no data rows (columns {', '.join(frame.columns[:10])}"
                        f"{', ...' if len(frame.columns) > 10 else ''})")
    frame.index = pd.RangeIndex(len(frame))
    frame.attrs[SOURCE] = {"first_line": first_line}
    return frame


class _Width:
    """The column limit of one file: `check(n)` refuses more than `limit` columns in one line."""

    def __init__(self, limit, name: str, key: str):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 2:
            raise UserError(f"{key}={limit!r}: must be an integer ≥ 2 (the most columns a table file may have)")
        self.limit, self.name, self.key = limit, name, key

    def check(self, n: int, counted: str = "") -> None:
        """n: the columns (or, with `counted`, the fields counted so far, e.g. " in its first line")."""
        if n > self.limit:
            what = f"more than {self.limit:,} columns{counted}" if counted else f"{n:,} columns"
            raise UserError(f"{self.name}: {what}, over {self.key}={self.limit}; refused before reading (a "
                            f"transposed table?); raise {self.key} if the file is meant to be this wide")


def _option(key: str, option: str) -> str:
    """The sibling key of the file's key: ("dataset.test_path", "sep") → "dataset.sep"."""
    return f"{key.rsplit('.', 1)[0]}.{option}" if "." in key else option


def _separator(sep, key: str) -> str | None:
    if sep is None:
        return None
    option = _option(key, "sep")
    if not isinstance(sep, str) or not sep:
        raise UserError(f"{option}={sep!r}: must be null (sniffed) or a separator such as ',' ';' '\\t' '|'")
    return {"\\t": "\t", "tab": "\t"}.get(sep, sep)         # a typed backslash-t on the command line means a tab


def _encoding(encoding, key: str) -> str:
    option = _option(key, "encoding")
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        raise UserError(f"{option}={encoding!r}: unknown text encoding; e.g. utf-8-sig, latin-1, cp1252") from None
    return str(encoding)


def _na_values(na_values, key: str) -> list[str] | None:
    if na_values is None:
        return None
    values = na_values if isinstance(na_values, (list, tuple)) else [na_values]
    option = _option(key, "na_values")
    if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        raise UserError(f"{option}={na_values!r}: must be a list of cell texts meaning missing, e.g. ['?', '-']")
    return [str(v) for v in values] or None


def _open_text_stream(file: Path, name: str, compression: str | None):
    """The file's decompressed bytes as a bounded binary stream (the plain file when not compressed)."""
    if compression is None:
        return contextlib.nullcontext(str(file))          # a path: pandas' C parser reads the file itself
    return open_decompressed(file, name, compression, "table file", LINE_LIMIT)


def _sniff(text: str) -> str:
    """The candidate separator that splits every sampled line into the same number (> 1) of fields, the most
    fields winning; otherwise the one with the most fields on the most lines; ',' when nothing splits."""
    lines = text.splitlines()
    if len(text) >= SAMPLE and len(lines) > 1:
        lines = lines[:-1]                                  # the last line of the sample may be cut short
    lines = [line for line in lines if line.strip()][:100]
    best, best_score = ",", (False, 1, 0)
    for rank, sep in enumerate(SEPARATORS):
        counts = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=sep)]
        if not counts:
            continue
        modal = max(set(counts), key=lambda c: (counts.count(c), c))
        score = (len(set(counts)) == 1, modal, -rank)
        if modal > 1 and score > best_score:
            best, best_score = sep, score
    return best


def _check_width(file: Path, name: str, compression, sep: str, encoding: str, width: _Width) -> None:
    """Refuse a first line with more than width.limit fields, counted in a stream of 1 MiB reads before pandas
    parses anything (separators inside quotes count too: an upper bound). Separators longer than one character
    (regexes) and UTF-16/32 text are not counted."""
    codec = codecs.lookup(encoding).name
    if len(sep) != 1 or codec.startswith(("utf-16", "utf-32")):
        return
    mark, fields = sep.encode("utf-8" if codec == "utf-8-sig" else codec), 1     # utf-8-sig would prefix a BOM
    with _open_text_stream(file, name, compression) as stream:
        with open(stream, "rb") if isinstance(stream, str) else contextlib.nullcontext(stream) as f:
            while chunk := f.read(1 << 20):
                end = chunk.find(b"\n")
                fields += (chunk if end < 0 else chunk[:end]).count(mark)
                if fields > width.limit:
                    width.check(fields, " in its first line")
                if end >= 0:
                    return


def _read_csv(file: Path, name: str, compression, sep, header: bool | str, encoding: str, na_values,
              key: str, width: _Width) -> tuple[pd.DataFrame, bool]:
    """The frame, and whether the first line named its columns (`header`, resolved when "auto")."""
    errors = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)
    engine = {}
    try:
        with _open_text_stream(file, name, compression) as stream:
            if isinstance(stream, str):
                with open(stream, "rb") as f:
                    sample = f.read(SAMPLE).decode(encoding, errors="replace")
            else:
                sample = stream.read(SAMPLE).decode(encoding, errors="replace")
        sep = _sniff(sample) if sep is None else sep
        _check_width(file, name, compression, sep, encoding, width)
        # pandas' C parser drops a UTF-8 byte-order mark itself and decodes UTF-8 in C (other names go through
        # Python's codec): "utf-8-sig" is read as "utf-8"
        codec = "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding
        engine = {"sep": sep, "encoding": codec,
                  "engine": "c" if len(sep) == 1 else "python"}        # a longer separator is a regex (python)
        if sep.strip() and sample.count(sep + " ") > sample.count(sep) / 2:
            engine["skipinitialspace"] = True   # "a, b" files (UCI adult): " ?" is "?"; ~25% slower, so only here
        if header:                 # duplicated names first: the main read would rename the copy 'a' → 'a.1'
            with _open_text_stream(file, name, compression) as stream:
                first = pd.read_csv(stream, header=None, nrows=1, dtype=str, keep_default_na=False, **engine)
            cells = [str(c).strip() for c in first.iloc[0]] if len(first) else []
            if header == "auto":
                numbers = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").notna()
                header = not cells or not all(n or c == "" for n, c in zip(numbers, cells))   # "" = a missing value
            if header:
                check_unique_columns(cells, name)
        with _open_text_stream(file, name, compression) as stream, warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)     # mixed chunks are re-read below
            frame = pd.read_csv(stream, header=0 if header else None, na_values=na_values, **engine)
        # The C parser types each chunk of rows on its own (low_memory=False would tokenize the whole file first:
        # twice the time and memory): a column of text in one chunk and numbers in another comes back as Python
        # objects ("02134" in one chunk, 2134.0 in the next). Those columns are read again, as text throughout.
        mixed = [i for i, dtype in enumerate(frame.dtypes) if pd.api.types.is_object_dtype(dtype)]
        if mixed:
            with _open_text_stream(file, name, compression) as stream:
                text = pd.read_csv(stream, header=0 if header else None, na_values=na_values, usecols=mixed,
                                   dtype=str, **engine)
            for i, column in zip(mixed, text.columns):
                frame[frame.columns[i]] = text[column]
        return frame, header
    except UserError:
        raise
    except pd.errors.EmptyDataError:
        raise UserError(f"{name}: empty file (no columns)") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{name}: not {encoding} text (byte 0x{e.object[e.start:e.start + 1].hex()}); pass the "
                        f"file's encoding, e.g. {_option(key, 'encoding')}=latin-1") from None
    except pd.errors.ParserError as e:
        raise UserError(f"{name}: not a readable table with sep={sep!r}: {_first_line(e)}") from None
    except errors as e:
        what = f"{compression} file" if compression else "file"
        raise UserError(f"{name}: corrupt or truncated {what} ({type(e).__name__}: {_first_line(e)})") from None
    except Exception as e:  # noqa: BLE001 - any other parse failure is the file's fault
        raise UserError(f"{name}: not a readable table ({type(e).__name__}: {_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else ""


def _pyarrow(name: str, what: str):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UserError(f"{name}: reading {what} files needs pyarrow: pip install 'mlrun-classic[table]'") from None


def _check_schema(schema, name: str, width: _Width) -> None:
    """Refuse too many columns, repeated names and nested values (list, struct, map: not a table cell)."""
    import pyarrow as pa

    width.check(len(schema.names))
    check_unique_columns(schema.names, name)
    for field in schema:
        if pa.types.is_nested(field.type):
            raise UserError(f"{name}: column {field.name} holds nested values ({field.type}); table cells must be "
                            f"numbers or text: flatten it into columns or write the file without it")


def _read_parquet(file: Path, name: str, width: _Width) -> pd.DataFrame:
    _pyarrow(name, "Parquet")
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
        _check_schema(parquet.schema_arrow, name, width)
        meta = parquet.metadata
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if size > memory_limit():
            raise UserError(f"{name}: declares {size / 1e9:.1f} GB of uncompressed data, more than a quarter of this "
                            f"machine's memory; refused")
        return pq.read_table(file).to_pandas()
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ... on bad files
        raise UserError(f"{name}: not a readable Parquet file ({type(e).__name__}: {_first_line(e)})") from None


def _read_feather(file: Path, name: str, width: _Width, v1: bool) -> pd.DataFrame:
    _pyarrow(name, "Feather")
    import pyarrow.feather as feather
    import pyarrow.ipc as ipc

    try:
        if not v1:                                        # Feather v2 = Arrow IPC: the schema before any data
            with ipc.open_file(file) as reader:
                _check_schema(reader.schema, name, width)
        arrow = feather.read_table(file, memory_map=True)
        _check_schema(arrow.schema, name, width)          # v1 files: checked once read (no separate schema)
        return arrow.to_pandas()
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001
        raise UserError(f"{name}: not a readable Feather file ({type(e).__name__}: {_first_line(e)})") from None
