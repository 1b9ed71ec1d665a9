"""The target column of `dataset=table`: its task and classes (fitted on the file), its encoding as training
labels, and model outputs decoded back into predictions (values in the column's units, or class names).

    target = {"name": "quality", "task": "regression", "classes": [],   # classes: names in label order
              "shift": 5.6, "scale": 0.81}                              # only when the target was standardized
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from mlrun.datasets._table_transform import (NUMERIC_SHARE, Rows, check_transform, factorize, numeric_share,
                                             numeric_values)
from mlrun.datasets.splits import unstandardize_target
from mlrun.errors import UserError

def _class_order(classes: set[str]) -> list[str]:
    as_numbers = pd.to_numeric(pd.Series(sorted(classes), dtype=object), errors="coerce")
    if not as_numbers.isna().any():                     # numeric labels in numeric order: 2 < 10
        return [c for _, c in sorted(zip(as_numbers.tolist(), sorted(classes)))]
    return sorted(classes)


def fit_target(s: pd.Series, column: str, task: str, max_classes: int, rows: Rows) -> dict:
    """The task and class names of the target `s` (no missing cells). auto: a text, boolean or integer target with
    ≤ max_classes distinct values is classification (binary for two), other numbers regression."""
    numeric = pd.api.types.is_numeric_dtype(s.dtype)
    if task == "auto" and numeric and not pd.api.types.is_bool_dtype(s.dtype):
        v = numeric_values(s, column, rows)
        if not np.array_equal(v, np.round(v)) or len(pd.unique(v)) > max_classes:
            task = "regression"
    if task == "regression":
        v = numeric_values(s, column, rows, " (dataset.task=regression)")
        if v.min() == v.max():
            raise UserError(f"{rows.name}: target column {column} has one value ({v[0]:g}) in every row: "
                            f"nothing to learn")
        return {"name": column, "task": "regression", "classes": []}
    codes, keys = factorize(s, column, rows)
    classes = _class_order(set(keys))
    if len(classes) == 1:
        raise UserError(f"{rows.name}: target column {column} has one class ({classes[0]!r}) in every row: "
                        f"nothing to learn")
    if len(classes) > max_classes and task == "auto":
        share = numeric_share(codes, keys)
        if share >= NUMERIC_SHARE:                  # numbers stored as text: regression, or typos to name
            numeric_values(s, column, rows, f" ({min(share, 0.999):.1%} of its cells are numbers); fix the cell or "
                                            f"declare the text missing with dataset.na_values")
            return {"name": column, "task": "regression", "classes": []}
    if len(classes) > max_classes:
        shown = ", ".join(map(repr, classes[:5])) + (", ..." if len(classes) > 5 else "")
        raise UserError(f"{rows.name}: target column {column} has {len(classes):,} distinct values ({shown}), more "
                        f"than dataset.max_classes={max_classes} classes; raise dataset.max_classes"
                        + (" or pick a numeric target" if task == "auto" else " or use dataset.task=regression"))
    if task == "binary" and len(classes) != 2:
        raise UserError(f"dataset.task=binary: target column {column} has {len(classes)} classes "
                        f"({', '.join(map(repr, classes[:10]))}); use dataset.task=multiclass")
    if task == "auto":
        task = "binary" if len(classes) == 2 else "multiclass"
    return {"name": column, "task": task, "classes": classes}


def encode_target(target: dict, s: pd.Series, rows: Rows) -> np.ndarray:
    """(N,) float64 values (regression) or int64 class indices; a class the training data lacks → one line."""
    if target["task"] == "regression":
        return numeric_values(s, target["name"], rows, " (the target is numeric in the training data)")
    codes, keys = factorize(s, target["name"], rows)
    index = {c: i for i, c in enumerate(target["classes"])}
    lookup = np.array([index.get(k, -1) for k in keys] + [-1], dtype=np.int64)
    labels = lookup[codes]
    if (labels < 0).any():
        p = int(np.argmax(labels < 0))
        what = "a missing value" if codes[p] < 0 else f"class {keys[codes[p]]!r}"
        raise UserError(f"{rows.name}: {rows.at(p)}, column {target['name']}: {what} is not one of the training "
                        f"data's classes ({', '.join(map(repr, target['classes'][:20]))})")
    return labels


def decode_predictions(transform: dict, outputs: torch.Tensor) -> list:
    """Model outputs → predictions: floats (regression; outputs (N, 1)), or class names (binary: logits (N, 1),
    class 1 where the logit > 0; multiclass: the argmax of logits (N, C)), in transform["target"]["classes"]."""
    check_transform(transform)
    target = transform["target"]
    out = torch.as_tensor(outputs).detach().float().cpu()
    out = out.reshape(len(out), -1)
    if target["task"] == "regression":
        return unstandardize_target(target, out[:, 0]).tolist()
    labels = (out[:, 0] > 0).long() if target["task"] == "binary" else out.argmax(1)
    return [target["classes"][i] for i in labels.tolist()]
