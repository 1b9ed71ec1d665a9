"""scikit-learn 8×8 handwritten digits: 1,797 images, 64 pixel features (0–16), 10 classes."""

from __future__ import annotations

from mlrun.datasets._sklearn import sklearn_table
from mlrun.datasets.spec import Data


def digits(split: dict, scaling: str = "standardize", seed: int = 0) -> Data:
    """Seeded stratified train/val/test splits of digits, features scaled with train statistics."""
    return sklearn_table("digits", "load_digits", "multiclass", split, scaling, seed)
