"""Checks shared by the seeded synthetic generators."""

from __future__ import annotations

from mlrun.runtime import memory
from mlrun.errors import check

# peak bytes per generated value: scikit-learn's float64 draw, the float32 splits, the scaled copies. Measured 21–24 B
# (blobs, regression, classification at 10^6–10^7 rows, peak RSS less the interpreter's); 20 keeps refusals safe
BYTES_PER_VALUE = 20


def check_size(n_samples: int, n_features: int, noise: float) -> None:
    check(isinstance(n_samples, int) and n_samples >= 10, "dataset.n_samples", n_samples, "must be an integer ≥ 10")
    check(isinstance(n_features, int) and n_features >= 1, "dataset.n_features", n_features, "must be an integer ≥ 1")
    check(float(noise) >= 0, "dataset.noise", noise, "must be ≥ 0")
    values = n_samples * (n_features + 1)                     # features and the target
    memory.require(values * BYTES_PER_VALUE, f"dataset.n_samples={n_samples}, dataset.n_features={n_features}",
                   f"{n_samples:,} rows × {n_features + 1:,} values × {BYTES_PER_VALUE} bytes",
                   "lower dataset.n_samples or dataset.n_features")
