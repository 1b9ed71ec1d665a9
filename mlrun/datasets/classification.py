"""Synthetic classification: Gaussian clusters on hypercube vertices (scikit-learn's make_classification)."""

from __future__ import annotations

import numpy as np

from mlrun.datasets._synthetic import check_size
from mlrun.datasets.spec import Data, DataSpec
from mlrun.datasets.splits import tabular
from mlrun.errors import check


def classification(split: dict, n_samples: int = 1000, n_features: int = 20, n_informative: int = 5,
                   n_classes: int = 2, noise: float = 0.01, scaling: str = "standardize", seed: int = 0) -> Data:
    """`noise` is the fraction of labels flipped at random; 2 classes give a binary task."""
    from sklearn.datasets import make_classification

    check_size(n_samples, n_features, noise)
    check(isinstance(n_classes, int) and n_classes >= 2, "dataset.n_classes", n_classes, "must be an integer ≥ 2")
    check(float(noise) <= 1, "dataset.noise", noise, "is a label-flip fraction in [0, 1]")
    n_informative = min(n_informative, n_features)
    check(n_classes <= 2 ** n_informative, "dataset.n_classes", n_classes,
          f"must be ≤ 2**n_informative = {2 ** n_informative}")
    x, y = make_classification(n_samples=n_samples, n_features=n_features, n_informative=n_informative,
                               n_redundant=0, n_classes=n_classes, flip_y=float(noise), random_state=seed)
    task = "binary" if n_classes == 2 else "multiclass"
    spec = DataSpec(input_shape=(n_features,), n_outputs=1 if task == "binary" else n_classes, task=task,
                    name="classification", classes=[str(c) for c in np.unique(y)])
    return tabular(x, y, spec, split, scaling, seed)
