"""Shared helper for the small tables that ship inside scikit-learn (no download)."""

from __future__ import annotations

import numpy as np

from mlrun.datasets.spec import Data, DataSpec
from mlrun.datasets.splits import tabular


def sklearn_table(name: str, loader: str, task: str, split: dict, scaling: str, seed: int) -> Data:
    import sklearn.datasets  # imported here: ~0.5 s that runs without it never pay

    bunch = getattr(sklearn.datasets, loader)()
    x, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
    classes = [str(c) for c in getattr(bunch, "target_names", [])] if task != "regression" else []
    n_outputs = {"regression": 1, "binary": 1, "multiclass": len(np.unique(y))}[task]
    spec = DataSpec(input_shape=(x.shape[1],), n_outputs=n_outputs, task=task, name=name, classes=classes)
    return tabular(x, y, spec, split, scaling, seed)
