"""scikit-learn wine: 178 wines from three cultivars, 13 chemical measurements (load_wine)."""

from __future__ import annotations

from mlrun.datasets._sklearn import sklearn_table
from mlrun.datasets.spec import Data


def wine(split: dict, scaling: str = "standardize", seed: int = 0) -> Data:
    """Seeded stratified train/val/test splits of wine (3 classes: 59 / 71 / 48 rows), features scaled with train
    statistics."""
    return sklearn_table("wine", "load_wine", "multiclass", split, scaling, seed)
