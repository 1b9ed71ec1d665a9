"""The schema of a stored `spec.transform`, checked in full before a checkpoint's preprocessing touches a row.

Two kinds (mlrun.infer.predict applies them):
- dataset=table (mlrun.datasets._table_transform, version 1): {version, scaling, columns, features, target} with
  numeric columns {name, kind: numeric, fill, shift, scale > 0, indicator} and categorical columns {name,
  kind: categorical, categories, other, fill: a name or null, indicator}; `features` must be exactly the inputs
  the columns encode to, in order, and the spec's inputs; the target names the spec's task and classes;
- built-in tables (mlrun.datasets.splits.array_transform): {kind: array, width, fill, shift, scale}, each of fill,
  shift, scale null or `width` finite numbers (scale > 0), width = the spec's inputs.
"""

from __future__ import annotations

import math

from mlrun.datasets._table_transform import VERSION, input_names

SCALINGS = ("none", "standardize", "mean_normalize")
TARGET_TASKS = ("regression", "binary", "multiclass")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value) -> bool:
    return _finite(value) and value > 0


def transform_problem(transform, spec: dict) -> str | None:
    """What is wrong with `transform` (spec["transform"]) for the rest of `spec`, or None."""
    if not isinstance(transform, dict):
        return f"spec.transform is a {type(transform).__name__}, not a mapping"
    if transform.get("kind") == "array":
        return _array_problem(transform, spec)
    if transform.get("version") != VERSION:
        return f"spec.transform.version={transform.get('version')!r}: this mlrun reads version {VERSION}"
    if transform.get("scaling") not in SCALINGS:
        return f"spec.transform.scaling={transform.get('scaling')!r}: valid choices are {', '.join(SCALINGS)}"
    columns = transform.get("columns")
    if not isinstance(columns, list) or not columns:
        return "spec.transform.columns: must be a non-empty list of columns"
    for i, column in enumerate(columns):
        problem = _column_problem(column)
        if problem:
            return f"spec.transform.columns[{i}]: {problem}"
    names = [c["name"] for c in columns]
    if len(set(names)) != len(names):
        return "spec.transform.columns: a column name repeats"
    expected = [name for c in columns for name in input_names(c)]
    if transform.get("features") != expected or spec.get("features") != expected:
        return "spec.transform.features and spec.features must be the inputs the columns encode to, in order"
    if list(spec["input_shape"]) != [len(expected)]:
        return f"spec.input_shape={spec['input_shape']!r}: the transform encodes {len(expected)} inputs per row"
    return _target_problem(transform.get("target"), spec)


def _column_problem(column) -> str | None:
    if not isinstance(column, dict) or not isinstance(column.get("name"), str):
        return "not a mapping with a name"
    if not isinstance(column.get("indicator"), bool):
        return f"indicator={column.get('indicator')!r}: must be true or false"
    if column.get("kind") == "numeric":
        for key in ("fill", "shift"):
            if not _finite(column.get(key)):
                return f"{key}={column.get(key)!r}: must be a finite number"
        if not _positive(column.get("scale")):
            return f"scale={column.get('scale')!r}: must be a finite number > 0"
        return None
    if column.get("kind") == "categorical":
        categories = column.get("categories")
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories) or \
                len(set(categories)) != len(categories):
            return "categories: must be a list of distinct names (text)"
        if not isinstance(column.get("other"), bool):
            return f"other={column.get('other')!r}: must be true or false"
        if column.get("fill") is not None and not isinstance(column.get("fill"), str):
            return f"fill={column.get('fill')!r}: must be a category name or null"
        return None
    return f"kind={column.get('kind')!r}: valid choices are numeric, categorical"


def _target_problem(target, spec: dict) -> str | None:
    if not isinstance(target, dict) or not isinstance(target.get("name"), str):
        return "spec.transform.target: must be a mapping with a name"
    if target.get("task") not in TARGET_TASKS or target.get("task") != spec["task"]:
        return f"spec.transform.target.task={target.get('task')!r}: must be the spec's task ({spec['task']})"
    if target.get("classes") != spec.get("classes", []):
        return "spec.transform.target.classes: must be the spec's classes"
    if "shift" in target or "scale" in target:
        if target["task"] != "regression" or not _finite(target.get("shift")) or not _positive(target.get("scale")):
            return (f"spec.transform.target: shift={target.get('shift')!r}, scale={target.get('scale')!r}; a "
                    f"standardized regression target needs a finite shift and a finite scale > 0")
    return None


def _array_problem(transform: dict, spec: dict) -> str | None:
    width = transform.get("width")
    if not isinstance(width, int) or isinstance(width, bool) or list(spec["input_shape"]) != [width]:
        return f"spec.transform.width={width!r}: must be the spec's inputs per row ({spec['input_shape']!r})"
    for key in ("fill", "shift", "scale"):
        values = transform.get(key)
        if values is None:
            continue
        ok = _positive if key == "scale" else _finite
        if not isinstance(values, list) or len(values) != width or not all(ok(v) for v in values):
            what = "> 0" if key == "scale" else ""
            return f"spec.transform.{key}: must be null or {width} finite numbers{' ' + what if what else ''}"
    if (transform.get("shift") is None) != (transform.get("scale") is None):
        return "spec.transform: shift and scale must both be set or both be null"
    return None
