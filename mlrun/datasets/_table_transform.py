"""The fitted preprocessing of `dataset=table` as plain data (JSON-safe: lists, str, float, bool), and its
application to rows: the same `encode()` turns the training file and, later, new rows into model inputs.

    transform = {
      "version": 1,
      "scaling": "standardize",            # none | standardize | mean_normalize: numeric inputs' statistics
      "columns": [                         # the input columns in encoding order, each fitted on the train split
        {"name": "alcohol", "kind": "numeric", "fill": 10.2, "shift": 10.42, "scale": 1.06, "indicator": false},
        {"name": "colour", "kind": "categorical", "categories": ["red", "white"], "other": false,
         "fill": "red", "indicator": true},
      ],
      "features": ["alcohol", "colour=red", "colour=white", "colour:missing"],   # the D model inputs, in order
      "target": {"name": "quality", "task": "regression", "classes": []},      # classes: names in label order
    }

numeric → one input (x − shift) / scale, a missing x replaced by `fill` (the train median) first.
categorical → a 0/1 input per category, plus "<name>=other" when `other` (every value outside the categories);
a missing value counts as `fill` (the train mode); a value outside the categories with no "other" input → all zeros.
indicator → one more 0/1 input "<name>:missing" after the column's inputs.
Cells are compared as text: numbers by their shortest form ("3" for 3 and 3.0, "0.5"), True/False for booleans,
text without surrounding spaces.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pandas as pd
import torch

from mlrun.datasets._checks import FLOAT32_MAX, check_finite, check_unique_columns, value_range
from mlrun.datasets._table_read import SOURCE
# re-exported: mlrun.infer.predict imports unstandardize_target from here
from mlrun.errors import UserError

log = logging.getLogger("mlrun")

VERSION = 1
NUMERIC_SHARE = 0.9       # a text column whose cells are ≥ 90% numbers is numeric: the rest are typos to report
UNSEEN = -2               # encoded category index: a value outside the categories (no "other" input)


class Rows:
    """How messages name the rows of one frame: file lines (CSV read by read_table), rows (Parquet/Feather), or
    1-based positions (any other DataFrame)."""

    def __init__(self, frame: pd.DataFrame, name: str):
        source = frame.attrs.get(SOURCE)
        self.name = name
        self.first_line = source.get("first_line") if source else None
        self.labels = frame.index.to_numpy() if source else None      # read_table's 0-based data rows

    def at(self, position: int) -> str:
        if self.labels is None:
            return f"row {position + 1}"
        label = int(self.labels[position])
        return f"line {self.first_line + label}" if self.first_line is not None else f"row {label + 1}"


def key_of(value) -> str | None:
    """The text a cell is compared by (categories, class names); None for values that are neither numbers nor text."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return str(int(f)) if f.is_integer() and abs(f) < 2 ** 53 else repr(f)
    if isinstance(value, str):
        return str(value).strip()             # "a, b" files: " b" is the category "b"
    return None


def _refuse_timestamps(s: pd.Series, column: str, rows: Rows) -> None:
    if pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_timedelta64_dtype(s.dtype):
        raise UserError(f"{rows.name}: column {column} holds timestamps ({s.dtype}); list it in dataset.drop or "
                        f"turn it into numbers (e.g. days since a date) first")


def factorize(s: pd.Series, column: str, rows: Rows) -> tuple[np.ndarray, list[str]]:
    """(codes (N,) int64 with −1 = missing, keys: the text of each code)."""
    _refuse_timestamps(s, column, rows)
    try:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
    except TypeError:                         # an unhashable cell (a list or dict from a Python caller)
        position = next((i for i, v in enumerate(s.tolist()) if isinstance(v, (list, dict, set))), 0)
        raise UserError(f"{rows.name}: {rows.at(position)}, column {column}: a {type(s.iloc[position]).__name__} "
                        f"value {str(s.iloc[position])[:40]!r}; table cells must be numbers or text") from None
    keys = [key_of(u) for u in uniques]
    if None in keys:
        bad = keys.index(None)
        position = int(np.argmax(codes == bad))
        raise UserError(f"{rows.name}: {rows.at(position)}, column {column}: a {type(uniques[bad]).__name__} value "
                        f"{str(uniques[bad])[:40]!r}; table cells must be numbers or text")
    return np.asarray(codes, dtype=np.int64), keys


def numeric_share(codes: np.ndarray, keys: list[str]) -> float:
    """The fraction of a text column's non-missing cells that read as numbers."""
    parsed = pd.to_numeric(pd.Series(keys, dtype=object), errors="coerce").to_numpy(np.float64)
    if np.isnan(parsed).all():
        return 0.0                            # no cell is a number: no need to count them
    counts = np.bincount(codes[codes >= 0], minlength=len(keys))
    return float(counts[~np.isnan(parsed)].sum() / max(counts.sum(), 1))


def numeric_values(s: pd.Series, column: str, rows: Rows, hint: str = "") -> np.ndarray:
    """(N,) float64, NaN where missing. A cell that is not a number or does not fit float32 → one line naming it."""
    _refuse_timestamps(s, column, rows)
    if s.dtype == np.float64:
        v = s.to_numpy()                                     # a read-only view: no copy
    elif pd.api.types.is_numeric_dtype(s.dtype):            # int, bool, float32, nullable Int64/Float64
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        number = pd.to_numeric(s, errors="coerce")
        bad = number.isna().to_numpy() & s.notna().to_numpy()
        if bad.any():
            p = int(np.argmax(bad))
            raise UserError(f"{rows.name}: {rows.at(p)}, column {column}: non-numeric value {str(s.iloc[p])[:40]!r} "
                            f"in a numeric column{hint}")
        v = number.to_numpy(dtype=np.float64, na_value=np.nan)
    check_finite(v, rows.name, column, rows=rows.labels, first_line=rows.first_line)
    return v


def typo_hint(value_share: float, column: str) -> str:
    return (f" ({min(value_share, 0.999):.1%} of its cells are numbers); fix the cell, declare the text missing with "
            f"dataset.na_values, or list {column} in dataset.categorical")


# ---- fitting, on the train split's rows

def fit_columns(frame: pd.DataFrame, features: list[str], categorical: list[str] | None, train: np.ndarray, *,
                max_categories: int, indicators: bool, scaling: str, rows: Rows, cache: dict | None = None
                ) -> list[dict]:
    """Each feature's encoding, from the rows `train` of `frame` (positions). categorical None = every column that
    is not numbers (a text column of ≥ 90% numbers is numeric and its other cells are errors). cache: filled
    with each column's checked values (numeric) or factorize() result, for `encode` of the same frame to reuse."""
    train = np.sort(train)                    # statistics ignore row order; sorted positions read memory in sequence
    scratch = np.empty(len(train))            # one buffer for every column's train values (no fresh pages per column)
    codes_scratch = np.empty(len(train), dtype=np.int64)
    columns = []
    for name in features:
        s = frame[name]
        as_category = name in categorical if categorical is not None else not pd.api.types.is_numeric_dtype(s.dtype)
        if as_category:
            codes, keys = factorize(s, name, rows)
            share = numeric_share(codes, keys) if categorical is None else 0.0
            if share < NUMERIC_SHARE:
                np.take(codes, train, out=codes_scratch)
                np.add(codes_scratch, 1, out=codes_scratch)                     # missing (−1) → 0
                counts = np.bincount(codes_scratch, minlength=len(keys) + 1)    # [missing, per key]
                columns.append(fit_categorical(name, counts, keys, max_categories, indicators, rows.name))
                if cache is not None:
                    cache[name] = codes, keys
                continue
            del codes, keys
        v = numeric_values(s, name, rows, typo_hint(share, name) if as_category else "")
        columns.append(fit_numeric(name, np.take(v, train, out=scratch), scaling, indicators, rows.name))
        if cache is not None:
            cache[name] = v
    return columns


def fit_numeric(name: str, v: np.ndarray, scaling: str, indicators: bool, file: str) -> dict:
    """fill = the median of the present values; shift/scale from the filled values. Works in place on `v` (N,)."""
    missing = np.isnan(v) if np.isnan(v.sum()) else None       # finite values sum to NaN only with a NaN
    n_missing = int(missing.sum()) if missing is not None else 0
    if n_missing == len(v):
        log.warning("%s: column %s is missing in every train row: it is encoded as 0; list it in dataset.drop",
                    file, name)
        fill = 0.0
    else:
        low, high = value_range(v)
        if low == high:
            log.warning("%s: column %s has one value (%g) in every train row: it carries no information; list it "
                        "in dataset.drop", file, name, low)
        fill = median(v[~missing] if n_missing else v)
    if n_missing:
        np.copyto(v, fill, where=missing)
    shift, scale = 0.0, 1.0
    if scaling != "none":
        shift = float(v.mean())
        if scaling == "standardize":
            np.subtract(v, shift, out=v)
            np.square(v, out=v)
            spread = float(np.sqrt(v.mean()))                        # the population std, as numpy's std()
        else:
            spread = float(v.max() - v.min())
        scale = spread if spread > 0 else 1.0
    return {"name": name, "kind": "numeric", "fill": fill, "shift": shift, "scale": scale,
            "indicator": bool(indicators and n_missing)}


def median(v: np.ndarray) -> float:
    """np.median(v), partitioning `v` in place around one index (np.median's two-index partition is ~7× slower)."""
    k = len(v) // 2
    v.partition(k)
    return float(v[k]) if len(v) % 2 else float((v[:k].max() + v[k]) / 2)


def fit_categorical(name: str, counts: np.ndarray, keys: list[str], max_categories: int, indicators: bool,
                    file: str) -> dict:
    """counts: train rows per code, missing first: (1 + len(keys),)."""
    n_missing, rows = int(counts[0]), int(counts.sum())
    merged = Counter()
    for key, count in zip(keys, counts[1:].tolist()):
        if count:
            merged[key] += count                      # 1 and 1.0 in one column are one category "1"
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
    other = len(ranked) > max_categories
    kept = sorted(k for k, _ in ranked[:max_categories - 1 if other else max_categories])
    if not ranked:
        log.warning("%s: column %s is missing in every train row: it is encoded as zeros; list it in dataset.drop",
                    file, name)
    elif len(ranked) == 1 and not n_missing:
        log.warning("%s: column %s has one value (%r) in every train row: it carries no information; list it in "
                    "dataset.drop", file, name, ranked[0][0])
    if other:
        log.warning("%s: column %s has %s distinct values in train: the %d most frequent are inputs, the rest "
                    "%s=other%s", file, name, f"{len(ranked):,}", len(kept), name,
                    "; an id or free text carries little signal: list it in dataset.drop"
                    if len(ranked) > 0.5 * rows else " (raise dataset.max_categories for more)")
    return {"name": name, "kind": "categorical", "categories": kept, "other": other,
            "fill": ranked[0][0] if ranked else None, "indicator": bool(indicators and n_missing)}


def input_names(column: dict) -> list[str]:
    if column["kind"] == "numeric":
        names = [column["name"]]
    else:
        names = [f"{column['name']}={c}" for c in column["categories"]] + ([f"{column['name']}=other"]
                                                                           if column["other"] else [])
    return names + ([f"{column['name']}:missing"] if column["indicator"] else [])


# ---- encoding, for the training file and for new rows alike

ROW_BLOCK = 8192          # rows per step: temporaries stay small and a block of the (N, D) output stays in cache


def encode(columns: list[dict], frame: pd.DataFrame, rows: Rows, order: np.ndarray | None = None,
           cache: dict | None = None) -> tuple[np.ndarray, dict]:
    """(x (N, D) float32, unseen {column: (count, first value)} of values outside a column's categories).

    order: the frame positions to encode, in this order (default all): rows come out already split, without a
    second (N, D) copy. Every row of the frame is still checked. cache: fit_columns' values for this frame (used up).
    """
    parts, j = [], 0                          # what each column writes, from input j on
    cache = {} if cache is None else cache
    for column in columns:
        s, name = frame[column["name"]], column["name"]
        part = {"first": j, "column": column, "numeric": column["kind"] == "numeric"}
        if part["numeric"]:
            v = cache.pop(name) if name in cache else numeric_values(s, name, rows, " (numeric in the training data)")
            low, high = value_range(v)        # checked finite above; NaN only when every value is missing
            largest = max([abs(column["fill"])] + ([] if np.isnan(low) else [abs(low), abs(high)]))
            if not (largest + abs(column["shift"])) / column["scale"] <= FLOAT32_MAX:   # bounds every |x|
                raise UserError(f"{rows.name}: column {name}: scaled values overflow float32 (scale "
                                f"{column['scale']:g}); use dataset.scaling=none or list it in dataset.drop")
            part |= {"values": v, "width": 1, "gaps": bool(np.isnan(v.sum()))}   # finite values sum to NaN only
        else:                                                                     # with a NaN among them
            codes, keys = cache.pop(name) if name in cache else factorize(s, name, rows)
            index = {c: i for i, c in enumerate(column["categories"])}
            outside = len(index) if column["other"] else UNSEEN
            fill = index.get(column["fill"], -1) if column["fill"] is not None else -1     # −1: no input set
            lookup = np.array([index.get(k, outside) for k in keys] + [fill], dtype=np.int32)   # code −1 → fill
            part |= {"values": lookup[codes], "codes": codes, "keys": keys, "width": len(index) + column["other"]}
        parts.append(part)
        j += part["width"] + column["indicator"]
    n = len(frame) if order is None else len(order)
    out = torch.empty(n, j).numpy()           # every element is written below, once (torch's allocator faults in
    unseen = {}                               # pages several times faster than numpy's on this kind of machine)
    for start in range(0, n, ROW_BLOCK):
        at = order[start:start + ROW_BLOCK] if order is not None else slice(start, start + ROW_BLOCK)
        block = out[start:start + ROW_BLOCK]  # (B, D) view
        for part in parts:
            k, width, column, missing = part["first"], part["width"], part["column"], None
            if part["numeric"]:               # (x − shift) / scale, a missing x taken as the fill value
                v = part["values"][at] if order is not None else part["values"][at].copy()   # (B,), changed below
                if part["gaps"]:
                    missing = np.isnan(v)
                    v[missing] = column["fill"]
                np.subtract(v, column["shift"], out=v)
                np.divide(v, column["scale"], out=block[:, k], casting="same_kind")   # float64 → float32 input
            else:                             # one-hot: a 1 in the row's category input, if any
                c = part["values"][at]
                block[:, k:k + width] = 0.0
                hit = np.flatnonzero(c >= 0)
                block[hit, k + c[hit]] = 1.0
                if len(hit) < len(c) and (new := c == UNSEEN).any():
                    count, first = unseen.get(column["name"], (0, part["keys"][part["codes"][at][np.argmax(new)]]))
                    unseen[column["name"]] = (count + int(new.sum()), first)
                if column["indicator"]:
                    missing = part["codes"][at] < 0
            if column["indicator"]:
                block[:, k + width] = missing if missing is not None else 0.0
    return out, unseen


def warn_unseen(unseen: dict, where: str) -> None:
    for name, (count, example) in unseen.items():
        log.warning("%s: column %s: %s value(s) not seen in the train split (e.g. %r) are encoded as all zeros",
                    where, name, f"{count:,}", example)


# ---- the public functions for new rows (prediction)

def check_transform(transform) -> None:
    ok = isinstance(transform, dict) and transform.get("version") == VERSION and isinstance(
        transform.get("columns"), list) and isinstance(transform.get("target"), dict)
    if not ok:
        raise UserError(f"not a dataset=table transform of version {VERSION} (a checkpoint's spec['transform']); "
                        f"got {type(transform).__name__}")


def apply_transform(transform: dict, frame: pd.DataFrame, name: str = "rows") -> torch.Tensor:
    """Model inputs (N, D) float32 for the rows of `frame`, encoded exactly as in training.

    transform: a trained dataset's `spec.transform` (saved in checkpoints as spec["transform"]). frame: the rows,
    e.g. from `read_table`; it needs every column in transform["columns"] (others, the target included, are
    ignored). name: how messages name the rows, e.g. "input='new.csv'". A missing column, a text cell in a
    numeric column, or a value beyond float32 is one UserError naming the column (and line or row); values outside
    a column's categories are encoded as zeros and counted in a warning.
    """
    check_transform(transform)
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    check_unique_columns(frame.columns, name)
    absent = [c["name"] for c in transform["columns"] if c["name"] not in frame.columns]
    if absent:
        have = list(frame.columns)
        raise UserError(f"{name}: missing column(s) {', '.join(map(repr, absent[:10]))} the model was trained on; "
                        f"the rows have {', '.join(map(repr, have[:20]))}{', ...' if len(have) > 20 else ''}")
    x, unseen = encode(transform["columns"], frame, Rows(frame, name))
    warn_unseen(unseen, name)
    return torch.from_numpy(x)
