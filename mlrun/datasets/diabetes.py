"""scikit-learn diabetes: 442 patients, 10 features, target = disease progression after one year."""

from __future__ import annotations

from mlrun.datasets._sklearn import sklearn_table
from mlrun.datasets.spec import Data


def diabetes(split: dict, scaling: str = "standardize", seed: int = 0) -> Data:
    """Seeded train/val/test splits of diabetes, features scaled with train statistics."""
    return sklearn_table("diabetes", "load_diabetes", "regression", split, scaling, seed)
