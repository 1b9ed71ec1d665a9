"""Seeded train/val/test splits (stratified for classification) and feature scaling from train only."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch

from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.errors import UserError, choose

log = logging.getLogger("mlrun")


def check_fractions(split: dict) -> tuple[float, float, float]:
    try:
        train, val, test = (float(split[k]) for k in ("train", "val", "test"))
    except (KeyError, TypeError, ValueError):
        raise UserError(f"dataset.split={split!r}: needs numbers train, val, test (fractions summing to ≤ 1)") from None
    for key, f in (("train", train), ("val", val), ("test", test)):
        if not 0.0 <= f <= 1.0:
            raise UserError(f"dataset.split.{key}={f}: must be a fraction in [0, 1]")
    if train <= 0:
        raise UserError(f"dataset.split.train={train}: must be > 0")
    if train + val + test > 1.0 + 1e-9:
        raise UserError(f"dataset.split={{train: {train}, val: {val}, test: {test}}}: fractions sum to "
                        f"{train + val + test:g} > 1")
    return train, val, test


def split_indices(y: np.ndarray, fractions: tuple[float, float, float], seed: int, stratify: bool):
    """Index arrays (train, val, test). Stratified: each class is divided in the same proportions."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    parts = ([], [], [])
    for idx in groups:
        idx = rng.permutation(idx)
        n_train = int(round(fractions[0] * len(idx)))
        n_val = min(int(round(fractions[1] * len(idx))), len(idx) - n_train)
        rest = len(idx) - n_train - n_val          # fractions summing to 1: test takes every remaining row
        n_test = rest if sum(fractions) > 1 - 1e-9 else min(int(round(fractions[2] * len(idx))), rest)
        parts[0].append(idx[:n_train])
        parts[1].append(idx[n_train:n_train + n_val])
        parts[2].append(idx[n_train + n_val:n_train + n_val + n_test])
    # shuffle across classes so the stored order carries no class blocks (matters for online GD)
    return tuple(rng.permutation(np.concatenate(p)) for p in parts)


EMPTY = {"val": "validation metrics, early stopping and the best-epoch choice have nothing to go on",
         "test": "the run reports no test score"}


def check_sizes(sizes: dict, total: int, settings: dict) -> None:
    """An empty train split is a UserError; an empty val or test split one warning line each.

    sizes: rows per split {"train": n, "val": n, "test": n}; total: rows they were drawn from; settings: for each
    split the override that sized it, named in the message, e.g. {"train": "dataset.split.train=0.0001", ...}.
    """
    if sizes["train"] == 0:
        raise UserError(f"{settings['train']}: leaves 0 of {total:,} rows for the train split; raise it so that "
                        f"every class keeps at least one train row")
    for split in ("val", "test"):
        if sizes[split] == 0:
            log.warning("%s: the %s split is empty (0 of %s rows): %s; raise it to get one",
                        settings[split], split, f"{total:,}", EMPTY[split])


def fraction_settings(fractions: tuple[float, float, float]) -> dict:
    return {k: f"dataset.split.{k}={f:g}" for k, f in zip(("train", "val", "test"), fractions)}


SCALINGS = ("none", "standardize", "mean_normalize")


def scale(train: np.ndarray, *others: np.ndarray, method: str):
    """Scale every array with statistics of `train` only. Returns the scaled arrays, train first.

    standardize: (x − mean) / std;  mean_normalize: (x − mean) / (max − min).  Constant columns divide by 1.
    """
    choose({s: s for s in SCALINGS}, "dataset.scaling", method)
    if method == "none":
        return (train, *others)
    mean = train.mean(axis=0)
    spread = train.std(axis=0) if method == "standardize" else train.max(axis=0) - train.min(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    return tuple(((a - mean) / spread) for a in (train, *others))


TARGET_SCALINGS = ("standardize", "none")   # a regression target: learnt as (y − mean) / std of train, or raw


def tabular(x: np.ndarray, y: np.ndarray, spec: DataSpec, split: dict, scaling: str, seed: int,
            target_scaling: str = "none") -> Data:
    """Split a table (N, D) into seeded train/val/test, fill missing values (NaN) with the train median of
    their column, scale features from train, return tensors + spec.

    target_scaling="standardize" (regression, y (N,)): the model learns (y − mean) / std of the train split; each
    Split's y_scale = std keeps rmse/mae in y's units, and spec.transform["target"] = {"shift", "scale"} turns
    predictions back (mlrun.infer.predict)."""
    choose({s: s for s in TARGET_SCALINGS}, "dataset.target_scaling", target_scaling)
    fractions = check_fractions(split)
    stratify = spec.task != "regression"
    tr, va, te = split_indices(y if stratify else np.zeros(len(y)), fractions, seed, stratify)
    check_sizes({"train": len(tr), "val": len(va), "test": len(te)}, len(y), fraction_settings(fractions))
    xs = impute_median(x[tr], x[va], x[te])
    spec.transform = array_transform(x[tr], xs[0], scaling)
    xs = scale(*xs, method=scaling)
    unit = 1.0
    if spec.task == "regression" and target_scaling == "standardize" and len(tr):
        target = {"task": "regression"} | fit_target_scale(y[tr])
        spec.transform["target"] = target
        y, unit = standardize_target(target, np.asarray(y, dtype=np.float64)), target["scale"]
    return Data(*(Split(to_x(a), to_y(y[i], spec.task), y_scale=unit) for a, i in zip(xs, (tr, va, te))),
                spec=spec)


def fit_target_scale(y_train: np.ndarray) -> dict:
    """{"shift": mean, "scale": std} of the train split's regression target (scale 1 when constant): the model
    learns (y − shift) / scale, a target near 0 with unit spread, whatever the column's units (dollars, grams)."""
    shift, spread = float(np.mean(y_train)), float(np.std(y_train))
    return {"shift": shift, "scale": spread if spread > 0 and np.isfinite(spread) else 1.0}


def standardize_target(target: dict, y: np.ndarray) -> np.ndarray:
    """Targets in training form: (y − shift) / scale when the target was standardized, else unchanged."""
    return (y - target["shift"]) / target["scale"] if "scale" in target else y


def unstandardize_target(target: dict, out: torch.Tensor) -> torch.Tensor:
    """Model outputs back in the target column's units: out · scale + shift (unchanged without target scaling)."""
    return out * target["scale"] + target["shift"] if "scale" in target else out



def array_transform(raw_train: np.ndarray, filled_train: np.ndarray, scaling: str) -> dict:
    """The preprocessing `tabular` fitted, as plain data for checkpoints (mlrun.infer.predict applies it to new rows):
    fill = the train medians that replace NaN (None when train had no NaN), shift/scale = (x − shift) / scale
    exactly as `scale` computes them (None with scaling=none)."""
    fill = None
    if np.isnan(raw_train).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fill = np.nan_to_num(np.nanmedian(raw_train, axis=0)).tolist()
    shift = spread = None
    if scaling != "none":
        shift = filled_train.mean(axis=0)
        spread = filled_train.std(axis=0) if scaling == "standardize" else \
            filled_train.max(axis=0) - filled_train.min(axis=0)
        shift, spread = shift.tolist(), np.where(spread > 0, spread, 1.0).tolist()
    return {"kind": "array", "width": int(raw_train.shape[1]), "fill": fill, "shift": shift, "scale": spread}


def impute_median(train: np.ndarray, *others: np.ndarray):
    """Replace NaN by the train split's column median (a column with no train values gets 0)."""
    if not any(np.isnan(a).any() for a in (train, *others)):
        return (train, *others)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN column: median NaN → 0 below
        median = np.nan_to_num(np.nanmedian(train, axis=0))
    return tuple(np.where(np.isnan(a), median, a) for a in (train, *others))


def to_x(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float32))


def to_y(y: np.ndarray, task: str) -> torch.Tensor:
    if task == "multiclass":
        return torch.as_tensor(np.asarray(y, dtype=np.int64))
    if task == "binary":
        return torch.as_tensor(np.asarray(y, dtype=np.float32))
    y = np.asarray(y, dtype=np.float32)
    return torch.as_tensor(y[:, None] if y.ndim == 1 else y)   # (N, targets)
