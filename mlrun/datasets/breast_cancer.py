"""scikit-learn Wisconsin breast cancer: 569 tumours, 30 features, malignant (0) vs benign (1)."""

from __future__ import annotations

from mlrun.datasets._sklearn import sklearn_table
from mlrun.datasets.spec import Data


def breast_cancer(split: dict, scaling: str = "standardize", seed: int = 0) -> Data:
    """Seeded stratified train/val/test splits of breast_cancer, features scaled with train statistics."""
    return sklearn_table("breast_cancer", "load_breast_cancer", "binary", split, scaling, seed)
