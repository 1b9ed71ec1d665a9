"""scikit-learn diabetes: 442 patients, 10 features, target = disease progression after one year (25–346)."""

from __future__ import annotations

from mlrun.datasets._sklearn import sklearn_table
from mlrun.datasets.spec import Data


def diabetes(split: dict, scaling: str = "standardize", seed: int = 0, target_scaling: str = "standardize") -> Data:
    """Seeded train/val/test splits of diabetes, features scaled with train statistics. target_scaling=standardize:
    the model learns (y − mean) / std of train; rmse/mae and predictions stay in the target's units."""
    return sklearn_table("diabetes", "load_diabetes", "regression", split, scaling, seed, target_scaling)
