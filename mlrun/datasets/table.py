"""Your own table file as a dataset: CSV/TSV/any separator (sniffed), gzip/bz2/xz/zip CSV, Parquet, Feather.

    mlrun train dataset=table dataset.path=data/wine.csv dataset.target=quality dataset.task=regression
    mlrun train dataset=table dataset.path=data/adult.parquet dataset.target=income model=logistic
    mlrun train dataset=table dataset.path=train.csv dataset.test_path=test.csv dataset.target=label model=mlp

Numeric columns are imputed with the train median and scaled; text columns (or those in `categorical`) are one-hot
encoded with the train split's categories; the target decides the task (see `fit_target`). Every statistic comes
from the train split and is kept as plain data in `spec.transform` (saved in checkpoints), so new rows are encoded
the same way later:

    frame = read_table("new.csv")                         # the same reader, any of the formats above
    x = apply_transform(spec["transform"], frame)         # (N, D) float32, the training encoding
    labels = decode_predictions(spec["transform"], model(x))

docs/own_data.md describes every key and message.

Its siblings (_table_read, _table_transform, _table_target, _table_guards) are imported inside the functions that use
them: they import pandas (~0.3 s), and `mlrun.datasets` imports this module for every run, most of which never read a
table. The functions here are the only doors into them.
"""

from __future__ import annotations

import difflib
import logging

import numpy as np
import torch

from mlrun.datasets._table_options import TableOptions
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.splits import (check_fractions, check_sizes, fit_target_scale, fraction_settings, split_indices,
                                   standardize_target, to_y)
from mlrun.errors import UserError, check

__all__ = ["table", "read_table", "apply_transform", "decode_predictions", "encode_target_column"]

log = logging.getLogger("mlrun")
DEFAULT_SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}
# pandas (~0.5 s to import) and the _table_* modules that need it are imported inside the functions (not at module
# level): `import mlrun.datasets` stays as quick as before


def table(path: str | None = None, **config) -> Data:
    """Train/val/test tensors from the table at `path` (and `test_path`/`val_path` when given); `config` holds the
    other keys of conf/dataset/table.yaml (see TableOptions) and the run's seed.

    Without separate files the rows are split by `split` fractions (seeded; stratified by class for classification).
    With `test_path`, `path` gives train and val (split.val of its rows); with `val_path`, train and test (split.test);
    with both, `path` is all train. Rows without a target value are left out (a warning counts them).
    """
    return load_table(TableOptions.from_config(path=path, **config))


def load_table(opts: TableOptions) -> Data:
    """`table()` for checked TableOptions: read, split, fit on train, encode every split, report."""
    from mlrun.datasets._table_guards import log_profile, profile, warn_leaks
    from mlrun.datasets._table_transform import Rows

    frame, target, inputs, chosen, left_out = _columns(opts)
    rows = Rows(frame, opts.name)
    target_spec, y = _target(frame, target, opts, rows)
    tr, va, te, files = _split(y, target_spec, inputs, opts)
    parts, fitted, missing = _encode(frame, y, target_spec, inputs, chosen, (tr, va, te), files, opts, rows)
    del frame
    raw = np.concatenate([b for _, b in parts.values()])          # every split's labels, in the column's units
    if target_spec["task"] == "regression" and opts.target_scaling == "standardize":
        target_spec |= fit_target_scale(parts["train"][1])            # train rows only, like every statistic
        parts = {p: (a, standardize_target(target_spec, b)) for p, (a, b) in parts.items()}
    sizes = {p: len(parts[p][1]) for p in ("train", "val", "test")}
    about = profile(sizes, fitted, left_out, missing, target_spec, raw)
    warn_leaks(parts["train"][0], parts["train"][1], fitted, target_spec["task"], opts.name)
    log_profile(about, opts.name)
    return _data(parts, fitted, target_spec, opts.scaling, about, len(inputs))


def _columns(opts):
    """(frame with rows lacking a target left out, target name, input columns, categorical columns or None, the
    columns left out as row numbers)."""
    from mlrun.datasets._table_guards import leave_out_row_numbers
    from mlrun.datasets._table_read import read_table

    frame = read_table(opts.path, **opts.reader(), key="dataset.path")
    name, columns = opts.name, list(frame.columns)
    if opts.target is None:
        raise UserError(f"dataset.target=null: name the column to predict, e.g. dataset.target={columns[-1]}; "
                        f"{name} has columns {_listing(columns)}")
    target = _column(opts.target, columns, "dataset.target", name)
    inputs = _features(opts.features, opts.drop, target, columns, name)
    left_out = []
    if opts.features is None and opts.drop_row_number:           # listed in dataset.features: the user's choice
        kept = leave_out_row_numbers(frame, inputs, name)
        left_out, inputs = [c for c in inputs if c not in kept], kept
        if not inputs:
            raise UserError(f"{name}: no feature columns left besides the target {target!r} and the row-number "
                            f"column(s) {_listing(left_out)}; set dataset.drop_row_number=false to use them")
    chosen = None
    if opts.categorical is not None:
        chosen = [_column(c, columns, "dataset.categorical", name) for c in opts.categorical]
    for c in chosen or []:
        check(c in inputs, "dataset.categorical", opts.categorical, f"lists {c!r}, which is not a feature column "
                                                                    f"(features: {_listing(inputs)})")
    return _clean(frame, target, inputs, opts.dropna, name), target, inputs, chosen, left_out


def _target(frame, target: str, opts, rows) -> tuple[dict, np.ndarray]:
    """(the fitted target: task and classes, labels (N,) of every row)."""
    import pandas as pd

    from mlrun.datasets._table_target import encode_target, fit_target

    target_spec = fit_target(frame[target], target, opts.task, opts.max_classes, rows)
    y = encode_target(target_spec, frame[target], rows)
    classes = target_spec["classes"]
    log.info("dataset=table: %s: %s rows; target %s → %s%s", opts.name, f"{len(frame):,}", target,
             target_spec["task"], f" ({len(classes)} classes)" if classes else "")
    dtype = frame[target].dtype
    if opts.task == "auto" and classes and pd.api.types.is_numeric_dtype(dtype) and \
            not pd.api.types.is_bool_dtype(dtype):
        log.info("dataset=table: target %s holds %d integer values, read as classes; dataset.task=regression "
                 "predicts it as a number", target, len(classes))
    return target_spec, y


def _split(y: np.ndarray, target_spec: dict, inputs: list[str], opts):
    """(train, val, test row positions of path, each in file order; {"val"|"test": (frame, name)} of the
    separate files)."""
    from mlrun.datasets._table_read import read_table

    fractions, settings = _fractions(opts.split, opts.test_path, opts.val_path)
    classification = target_spec["task"] != "regression"
    parts = split_indices(y if classification else np.zeros(len(y)), fractions, opts.seed, classification)
    tr, va, te = (np.sort(p) for p in parts)     # each split keeps the file's row order (the loop shuffles batches)
    files = {}
    for part, file in (("val", opts.val_path), ("test", opts.test_path)):
        if file:
            key = f"dataset.{part}_path"
            where = f"{key}={str(file)!r}"
            other = read_table(file, **opts.reader(), key=key)
            files[part] = (_clean(other, target_spec["name"], inputs, opts.dropna, where), where)
    sizes = {"train": len(tr), "val": len(va), "test": len(te)} | {p: len(f[0]) for p, f in files.items()}
    check_sizes(sizes, len(y), settings)
    return tr, va, te, files


def _encode(frame, y, target_spec: dict, inputs, chosen, positions, files: dict, opts, rows):
    """({split: (x (n, D) float32, labels (n,))}, the fitted columns, {column: missing cells in path}); fitted on
    the train rows, every row encoded by the code prediction uses. Logs the missing values per column."""
    from mlrun.datasets._table_guards import log_missing, missing_counts
    from mlrun.datasets._table_target import encode_target
    from mlrun.datasets._table_transform import Rows, encode, fit_columns, warn_unseen

    tr, va, te = positions
    cache = {}                                             # fit's checked columns, reused by encode
    fitted = fit_columns(frame, inputs, chosen, tr, max_categories=opts.max_categories,
                         indicators=opts.missing_indicators, scaling=opts.scaling, rows=rows, cache=cache)
    missing = missing_counts(frame, inputs)
    log_missing(missing, fitted, len(frame), opts.name)
    x, unseen = encode(fitted, frame, rows, order=np.concatenate([tr, va, te]), cache=cache)   # (N, D)
    warn_unseen(unseen, f"{opts.name} (val/test rows)")
    cut = np.cumsum([len(tr), len(va)])
    parts = {"train": (x[:cut[0]], y[tr]), "val": (x[cut[0]:cut[1]], y[va]), "test": (x[cut[1]:], y[te])}
    for part, (other, where) in files.items():
        other_rows = Rows(other, where)
        log_missing(missing_counts(other, inputs), fitted, len(other), where)
        xo, unseen = encode(fitted, other, other_rows)
        warn_unseen(unseen, where)
        parts[part] = (xo, encode_target(target_spec, other[target_spec["name"]], other_rows))
    return parts, fitted, missing


def _data(parts: dict, fitted: list[dict], target_spec: dict, scaling: str, about: dict, n_columns: int) -> Data:
    """The splits as tensors and the spec carrying the transform (for prediction) and the profile."""
    from mlrun.datasets._table_transform import VERSION, input_names

    classes = target_spec["classes"]
    transform = {"version": VERSION, "scaling": scaling, "columns": fitted,
                 "features": [n for c in fitted for n in input_names(c)], "target": target_spec}
    width = len(transform["features"])
    spec = DataSpec(input_shape=(width,), n_outputs=len(classes) if target_spec["task"] == "multiclass" else 1,
                    task=target_spec["task"], name="table", classes=classes, features=transform["features"],
                    transform=transform, profile=about)
    log.info("dataset=table: %d inputs from %d columns; %s train / %s val / %s test rows", width, n_columns,
             *(f"{len(parts[p][1]):,}" for p in ("train", "val", "test")))
    unit = target_spec.get("scale", 1.0)                  # scoring reports rmse/mae in the column's units
    splits = [Split(torch.from_numpy(a), to_y(b, spec.task), y_scale=unit)
              for a, b in (parts[p] for p in ("train", "val", "test"))]
    return Data(*splits, spec=spec)


def read_table(path, sep: str | None = None, header: bool | str = True, encoding: str = "utf-8-sig",
               na_values=None, *, key: str = "dataset.path"):
    """The rows of a CSV/TSV/compressed CSV/Parquet/Feather file as a pandas DataFrame with string column names,
    read exactly as `dataset=table` reads its files (see `mlrun.datasets._table_read.read_table`); `key` names the
    file in messages, e.g. "input". Every problem is one UserError line naming the file."""
    from mlrun.datasets._table_read import read_table as read

    return read(path, sep, header, encoding, na_values, key=key)


def apply_transform(transform: dict, frame, name: str = "rows") -> torch.Tensor:
    """Model inputs (N, D) float32 for the rows of `frame` (a DataFrame, e.g. from `read_table`), encoded exactly as
    in training by `transform` = a checkpoint's spec["transform"]. Columns beyond the trained ones (the target
    too) are ignored; a missing column, a text cell in a numeric column or a value beyond float32 is one UserError
    naming the column and line (or row); values outside a column's categories are counted in a warning."""
    from mlrun.datasets._table_transform import apply_transform as apply

    return apply(transform, frame, name)


def decode_predictions(transform: dict, outputs: torch.Tensor) -> list:
    """Model outputs → predictions: floats (regression, outputs (N, 1)) or class names (binary: logits (N, 1), the
    second class where the logit > 0; multiclass: the argmax of logits (N, C))."""
    from mlrun.datasets._table_target import decode_predictions as decode

    return decode(transform, outputs)


def encode_target_column(transform: dict, frame, name: str = "rows") -> torch.Tensor:
    """The target column of labelled new rows in training form: (N, 1) float32 (regression), (N,) float32 0/1
    (binary) or (N,) int64 class indices (multiclass); a missing target column or unknown class → UserError."""
    if not isinstance(transform, dict) or not isinstance(transform.get("target"), dict):
        raise UserError(f"not a dataset=table transform (a checkpoint's spec['transform']); got "
                        f"{type(transform).__name__}")
    target = transform["target"]
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    if target["name"] not in frame.columns:
        raise UserError(f"{name}: no target column {target['name']!r} to score against; the rows have "
                        f"{_listing(list(frame.columns))}")
    from mlrun.datasets._table_target import encode_target
    from mlrun.datasets._table_transform import Rows

    labels = standardize_target(target, encode_target(target, frame[target["name"]], Rows(frame, name)))
    return to_y(labels, target["task"])


# ---- column checks

def _listing(columns: list[str], limit: int = 20) -> str:
    shown = ", ".join(map(repr, columns[:limit]))
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def _column(ref, columns: list[str], key: str, name: str) -> str:
    """A column given by name or by 0-based index (negative counts from the end) → its name."""
    if isinstance(ref, bool) or not isinstance(ref, (int, str)):
        raise UserError(f"{key}={ref!r}: must be a column name or a 0-based column index")
    if isinstance(ref, int):
        if not -len(columns) <= ref < len(columns):
            raise UserError(f"{key}={ref}: column index out of range: {name} has {len(columns)} columns "
                            f"(0 to {len(columns) - 1})")
        return columns[ref]
    if ref in columns:
        return ref
    close = difflib.get_close_matches(ref, columns, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UserError(f"{key}={ref!r}: no such column in {name}{hint} Columns: {_listing(columns)}")


def _features(features, drop, target: str, columns: list[str], name: str) -> list[str]:
    dropped = {_column(c, columns, "dataset.drop", name) for c in (drop or [])}
    check(target not in dropped, "dataset.drop", drop, f"lists the target column {target!r}")
    if features is None:
        chosen = [c for c in columns if c != target and c not in dropped]
    else:
        chosen = [_column(c, columns, "dataset.features", name) for c in features]
        twice = sorted({c for c in chosen if chosen.count(c) > 1})
        check(not twice, "dataset.features", features, f"lists {', '.join(map(repr, twice))} more than once")
        check(target not in chosen, "dataset.features", features,
              f"lists the target column {target!r}: the model would read the answer")
        chosen = [c for c in chosen if c not in dropped]
    if not chosen:
        raise UserError(f"{name}: no feature columns left besides the target {target!r} (columns: "
                        f"{_listing(columns)}); check dataset.features and dataset.drop, or dataset.sep if the file "
                        f"was read as one column")
    return chosen


def _clean(frame, target: str, inputs: list[str], dropna: bool, name: str):
    """Leave out rows without a target (a warning) and, with dropna, rows with a missing feature."""
    from mlrun.datasets._table_read import SOURCE
    from mlrun.datasets._table_transform import Rows

    absent = [c for c in [*inputs, target] if c not in frame.columns]
    if absent:
        raise UserError(f"{name}: missing column(s) {', '.join(map(repr, absent[:10]))} of the training file; "
                        f"it has {_listing(list(frame.columns))}")
    keep = frame[target].notna().to_numpy()
    rows = Rows(frame, name)
    if not keep.all():
        log.warning("%s: %s row(s) without a %s value are left out (the first at %s)", name,
                    f"{int((~keep).sum()):,}", target, rows.at(int(np.argmax(~keep))))
    if dropna:
        incomplete = frame[inputs].isna().any(axis=1).to_numpy() & keep
        if incomplete.any():
            log.warning("%s: dataset.dropna=true leaves out %s row(s) with a missing feature (the first at %s)",
                        name, f"{int(incomplete.sum()):,}", rows.at(int(np.argmax(incomplete))))
        keep = keep & ~incomplete
    if not keep.any():
        raise UserError(f"{name}: no rows left: every row lacks a {target} value"
                        + (" or a feature (dataset.dropna=true)" if dropna else ""))
    if keep.all():
        return frame
    source = frame.attrs.get(SOURCE)
    kept = frame.loc[keep]
    kept.attrs[SOURCE] = source                           # keep naming file lines after rows are left out
    return kept


def _fractions(split, test_path, val_path) -> tuple[tuple[float, float, float], dict]:
    """The fractions of `path`'s rows for train/val/test, and the override that sized each split."""
    train, val, test = check_fractions(DEFAULT_SPLIT if split is None else split)
    settings = fraction_settings((train, val, test))
    if test_path and val_path:
        return (1.0, 0.0, 0.0), {"train": "dataset.path", "val": "dataset.val_path", "test": "dataset.test_path"}
    if test_path:
        return (1.0 - val, val, 0.0), {**settings, "train": settings["val"], "test": "dataset.test_path"}
    if val_path:
        return (1.0 - test, 0.0, test), {**settings, "train": settings["test"], "val": "dataset.val_path"}
    return (train, val, test), settings
