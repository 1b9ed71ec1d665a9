"""Solvers: `optimizer=` options that train a model by themselves (mlrun.solvers.base.Solver)."""

from mlrun.solvers.als import ALS

__all__ = ["ALS"]
