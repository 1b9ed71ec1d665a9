"""Solvers: `optimizer=` options that train a model by themselves (mlrun.solvers.base.Solver)."""

from mlrun.solvers.als import ALS
from mlrun.solvers.bpr import BPR

__all__ = ["ALS", "BPR"]
