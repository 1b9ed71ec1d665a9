"""What `dataset=table` tells the user about a file before training: a row-number column left out, the missing
values filled per column, a one-screen profile of the data (logged, and kept as plain data on spec.profile for
summary.json), and an input that alone predicts the target on train (usually a leak).
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

log = logging.getLogger("mlrun")

UNNAMED = re.compile(r"^(Unnamed: \d+|\.\.\.\d+|)$")   # pandas' name for an empty header cell (R: "", readr: ...1)
ROW_NAMES = re.compile(r"^(id|index|idx|row|rowid|row_id|rownum|row_num|row_number|rownumber|row_index|"
                       r"row\.names|rownames|#)$", re.IGNORECASE)
MISSING_LINES = 20        # per-column missing-value lines at most; the rest are counted in one more line
LEAK_ROWS = 20_000        # train rows the leak check looks at (a seeded sample of larger splits)
LEAK_LEVEL = 0.99         # |correlation| (regression) or one-feature accuracy (classification) that warns
DISCRETE = 64             # a numeric input with at most this many distinct values is fitted as groups


# ---- (1) a row-number column

def row_number_reason(name: str, s: pd.Series) -> str | None:
    """Why column `name` looks like a row number (None when it does not): an unnamed header with one value per
    row, or a column named like id/index/row holding unique integers increasing in file order."""
    if s.isna().any():
        return None
    if UNNAMED.match(name):
        return "an unnamed header with one value per row" if s.is_unique else None
    if not ROW_NAMES.match(name) or not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s):
        return None
    v = s.to_numpy(dtype=np.float64)
    if len(v) < 2 or not np.array_equal(v, np.round(v)) or not (np.diff(v) > 0).all():
        return None
    return "unique integers increasing in file order"


def leave_out_row_numbers(frame: pd.DataFrame, inputs: list[str], name: str) -> list[str]:
    """`inputs` without the row-number columns, each left out with one warning line."""
    kept = []
    for column in inputs:
        reason = row_number_reason(column, frame[column])
        if reason is None:
            kept.append(column)
            continue
        log.warning("%s: column %r looks like a row number (%s) and is left out: it can leak the row order "
                    "(files sorted by date or by class); keep it with dataset.drop_row_number=false or by listing "
                    "it in dataset.features", name, column, reason)
    return kept


# ---- (2) missing values, one line per column

def missing_counts(frame: pd.DataFrame, columns: list[str]) -> dict[str, int]:
    """{column: missing cells} for the columns of `frame` that have any."""
    counts = {c: int(frame[c].isna().sum()) for c in columns}
    return {c: n for c, n in counts.items() if n}


def log_missing(counts: dict[str, int], fitted: list[dict], rows: int, name: str) -> None:
    """One line per column with missing cells: how many, and the train value that fills them."""
    by_name = {c["name"]: c for c in fitted}
    for i, (column, n) in enumerate(counts.items()):
        if i == MISSING_LINES:
            log.info("%s: %d more column(s) with missing values (summary.json: spec.profile.missing)", name,
                     len(counts) - MISSING_LINES)
            break
        fit = by_name[column]
        fill = (f"the train median {fit['fill']:g}" if fit["kind"] == "numeric" else
                f"the most frequent train value {fit['fill']!r}" if fit["fill"] is not None else "zeros")
        log.info("%s: column %s: %s missing value(s) (%.1f%%), filled with %s%s", name, column, f"{n:,}",
                 100.0 * n / max(rows, 1), fill, f"; input {column}:missing marks them" if fit["indicator"] else "")


# ---- (3) the data profile

def profile(sizes: dict, fitted: list[dict], left_out: list[str], missing: dict[str, int], target: dict,
            labels: np.ndarray) -> dict:
    """Plain data: rows per split, input columns by kind, missing cells per column, categories per categorical
    column, and the target (classes with their counts over every split, or its mean/std/min/max)."""
    kinds = {"numeric": [c["name"] for c in fitted if c["kind"] == "numeric"],
             "categorical": [c["name"] for c in fitted if c["kind"] == "categorical"], "left_out": list(left_out)}
    categories = {c["name"]: len(c["categories"]) + int(c["other"]) for c in fitted if c["kind"] == "categorical"}
    about = {"name": target["name"], "task": target["task"]}
    if target["task"] == "regression":
        about |= {"mean": float(np.mean(labels)), "std": float(np.std(labels)), "min": float(np.min(labels)),
                  "max": float(np.max(labels))}
    else:
        counts = np.bincount(labels.astype(np.int64), minlength=len(target["classes"]))
        about["classes"] = dict(zip(target["classes"], counts.tolist()))
    return {"rows": dict(sizes), "columns": kinds, "missing": dict(missing), "categories": categories,
            "target": about}


def _short(items, limit: int = 12) -> str:
    items = list(items)
    return ", ".join(map(str, items[:limit])) + (f", ... ({len(items)} in all)" if len(items) > limit else "") \
        if items else "none"


def log_profile(p: dict, name: str) -> None:
    """The profile in a few lines of train.log."""
    rows, kinds, target = p["rows"], p["columns"], p["target"]
    log.info("data profile of %s:", name)
    log.info("  rows: %s", ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    log.info("  numeric columns (%d): %s", len(kinds["numeric"]), _short(kinds["numeric"]))
    log.info("  categorical columns (%d): %s", len(kinds["categorical"]),
             _short(f"{c} ({p['categories'][c]} categories)" for c in kinds["categorical"]))
    if kinds["left_out"]:
        log.info("  left out: %s", _short(kinds["left_out"]))
    log.info("  missing cells: %s", _short(f"{c} {n:,}" for c, n in p["missing"].items()))
    if target["task"] == "regression":
        log.info("  target %s (regression): mean %.4g, std %.4g, range [%.4g, %.4g]", target["name"],
                 target["mean"], target["std"], target["min"], target["max"])
    else:
        log.info("  target %s (%s): %s", target["name"], target["task"],
                 _short(f"{c} {n:,}" for c, n in target["classes"].items()))


# ---- (4) one input that predicts the target alone

def _group_fit(codes: np.ndarray, y: np.ndarray, classification: bool) -> float:
    """How well the groups of equal `codes` (N,) alone fit y: accuracy of each group's majority class (a row alone
    in its group counts as wrong), or the R² of the group means."""
    _, group = np.unique(codes, return_inverse=True)
    if classification:
        table = np.zeros((group.max() + 1, int(y.max()) + 1), dtype=np.int64)
        np.add.at(table, (group, y.astype(np.int64)), 1)
        right = table.max(1) * (table.sum(1) > 1)
        return float(right.sum() / len(y))
    sums, counts = np.bincount(group, weights=y), np.bincount(group)
    residual = y - (sums / counts)[group]
    total = float(np.square(y - y.mean()).sum())
    return 1.0 - float(np.square(residual).sum()) / total if total > 0 else 0.0


def _neighbour_accuracy(v: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out accuracy of the nearest row by this one value (1-nearest-neighbour in 1-D)."""
    order = np.argsort(v, kind="stable")
    v, y = v[order], y[order]
    gap_before = np.r_[np.inf, np.diff(v)]                # distance to the previous row in value order
    gap_after = np.r_[np.diff(v), np.inf]
    neighbour = np.where(gap_before <= gap_after, np.arange(len(v)) - 1, np.arange(len(v)) + 1)
    return float((y[np.clip(neighbour, 0, len(v) - 1)] == y).mean())


def one_feature_fit(v: np.ndarray, y: np.ndarray, task: str) -> tuple[float, str]:
    """(score, what it is) of the target y fitted from one input column's values v (N,)."""
    classification = task != "regression"
    discrete = len(np.unique(v)) <= DISCRETE
    if not classification and not discrete:
        spread = float(np.std(v))
        r = float(np.corrcoef(v, y)[0, 1]) if spread > 0 else 0.0
        return abs(r), f"|correlation| {abs(r):.4f}"
    if discrete:
        score = _group_fit(v, y, classification)
        return score, (f"accuracy {score:.4f} from its value alone" if classification
                       else f"R² {score:.4f} from its value alone")
    score = _neighbour_accuracy(v, y)
    return score, f"accuracy {score:.4f} of the nearest train row by its value"


def warn_leaks(x: np.ndarray, y: np.ndarray, fitted: list[dict], task: str, name: str) -> list[str]:
    """Warn (one line each) about input columns that alone predict y almost perfectly on train rows x (N, D) of
    the encoding `fitted`; returns their names. Classification also needs the column to beat the majority class
    clearly (≤ 10% of its errors), so a 99%-one-class target does not flag every column."""
    if len(y) > LEAK_ROWS:
        pick = np.sort(np.random.default_rng(0).choice(len(y), LEAK_ROWS, replace=False))
        x, y = x[pick], y[pick]
    if len(y) < 10:
        return []
    y = np.asarray(y, dtype=np.float64).reshape(len(y))
    baseline = 1.0 - np.bincount(y.astype(np.int64)).max() / len(y) if task != "regression" else 1.0
    flagged, j = [], 0
    for column in fitted:
        width = 1 if column["kind"] == "numeric" else len(column["categories"]) + int(column["other"])
        block = x[:, j:j + width]
        j += width + int(column["indicator"])
        if column["kind"] == "numeric":
            v = block[:, 0].astype(np.float64)
        else:                                             # the category index; all zeros (unseen) = width
            v = np.where(block.max(1) > 0, block.argmax(1), width).astype(np.float64) if width else np.zeros(len(y))
        score, what = one_feature_fit(v, y, task)
        if score >= LEAK_LEVEL and (task == "regression" or 1.0 - score <= 0.1 * baseline):
            flagged.append(column["name"])
            log.warning("%s: column %s alone predicts the target %s on train (%s): usually a leak (the answer or "
                        "something computed from it); list it in dataset.drop unless it is known before the "
                        "prediction", name, column["name"], "almost perfectly", what)
    return flagged
