"""Synthetic isotropic Gaussian blobs, one per class (scikit-learn's make_blobs)."""

from __future__ import annotations

from mlrun.datasets._synthetic import check_size
from mlrun.datasets.spec import Data, DataSpec
from mlrun.datasets.splits import tabular
from mlrun.errors import check


def blobs(split: dict, n_samples: int = 1000, n_features: int = 2, n_classes: int = 3, noise: float = 1.0,
          scaling: str = "standardize", seed: int = 0) -> Data:
    """`noise` is each blob's standard deviation; centres are drawn uniformly in [-10, 10]^n_features."""
    from sklearn.datasets import make_blobs

    check_size(n_samples, n_features, noise)
    check(isinstance(n_classes, int) and n_classes >= 2, "dataset.n_classes", n_classes, "must be an integer ≥ 2")
    x, y = make_blobs(n_samples=n_samples, n_features=n_features, centers=n_classes, cluster_std=float(noise),
                      random_state=seed)
    task = "binary" if n_classes == 2 else "multiclass"
    spec = DataSpec(input_shape=(n_features,), n_outputs=1 if task == "binary" else n_classes, task=task,
                    name="blobs", classes=[str(c) for c in range(n_classes)])
    return tabular(x, y, spec, split, scaling, seed)
