"""scikit-learn iris: 150 flowers, 4 features, 3 species."""

from __future__ import annotations

from mlrun.datasets._sklearn import sklearn_table
from mlrun.datasets.spec import Data


def iris(split: dict, scaling: str = "standardize", seed: int = 0) -> Data:
    """Seeded stratified train/val/test splits of iris, features scaled with train statistics."""
    return sklearn_table("iris", "load_iris", "multiclass", split, scaling, seed)
