"""Checks shared by the seeded synthetic generators."""

from __future__ import annotations

from mlrun.errors import check


def check_size(n_samples: int, n_features: int, noise: float) -> None:
    check(isinstance(n_samples, int) and n_samples >= 10, "dataset.n_samples", n_samples, "must be an integer ≥ 10")
    check(isinstance(n_features, int) and n_features >= 1, "dataset.n_features", n_features, "must be an integer ≥ 1")
    check(float(noise) >= 0, "dataset.noise", noise, "must be ≥ 0")
