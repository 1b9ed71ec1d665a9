"""Synthetic linear regression: y = X w + b + noise (scikit-learn's make_regression), seeded."""

from __future__ import annotations

from mlrun.datasets._synthetic import check_size
from mlrun.datasets.spec import Data, DataSpec
from mlrun.datasets.splits import tabular


def regression(split: dict, n_samples: int = 1000, n_features: int = 20, n_informative: int = 10,
               noise: float = 10.0, scaling: str = "standardize", seed: int = 0,
               target_scaling: str = "standardize") -> Data:
    """`n_samples` rows with `n_features` Gaussian features, `n_informative` of them in the true w;
    `noise` is the standard deviation of the Gaussian noise added to y. target_scaling=standardize: the model learns
    (y − mean) / std of train; rmse/mae and predictions stay in y's units."""
    from sklearn.datasets import make_regression

    check_size(n_samples, n_features, noise)
    x, y = make_regression(n_samples=n_samples, n_features=n_features, n_informative=min(n_informative, n_features),
                           noise=float(noise), random_state=seed)
    spec = DataSpec(input_shape=(n_features,), n_outputs=1, task="regression", name="regression")
    return tabular(x, y, spec, split, scaling, seed, target_scaling)
