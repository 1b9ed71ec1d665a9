"""Least squares and ridge solved exactly, in float64: the minimiser of mlrun's own regression objective.

The objective (mlrun.fit.loop.make_step with loss=mse: torch's mse_loss averages over rows and targets, and
trainer.l2 adds l2·Σ‖W‖² over weight matrices; the bias is not penalised):

    f(W, b) = 1/(N·T) Σ_n ‖W x_n + b − y_n‖² + l2 · ‖W‖²_F          W (T, D), b (T,), T targets

Centring removes b (b = ȳ − W x̄), and each target row w_t solves (X_cᵀX_c/N + T·l2·I) w_t = X_cᵀ y_c,t / N.

scikit-learn: LinearRegression is l2 = 0; Ridge(alpha) minimises Σ‖y − Xw − b‖² + alpha‖w‖², i.e. f with

    alpha = N · T · l2          (one target: alpha = N · l2)

- l2 > 0: Cholesky of the D×D normal matrix (positive definite: the T·l2·I term).
- l2 = 0: the minimum-norm least-squares answer from the thin SVD of X_c (singular values ≤ ε·max(N, D)·s_max,
  ε the machine epsilon of x's own dtype — float32 data is only that exact, so a float32 column that is a sum of
  others is dependent —
  count as zero): unique even with constant or collinear columns (it is scikit-learn's LinearRegression answer,
  which solves the same centred problem by LAPACK's gelsd). Costs O(N·D²) on any device.

`dependent_columns` names which columns are constant and which are linear combinations of the columns before
them, so a caller can tell the user (the answer is still defined: minimum norm spreads the weight among them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mlrun.errors import number

RCOND = torch.finfo(torch.float64).eps   # × max(N, D) × s_max: singular values below are rank-deficient directions
CONSTANT_RTOL = 1e-12                    # a centred column within this of its own magnitude is constant
COLLINEAR_RTOL = 1e-9                    # a column whose part off the earlier columns is this small is dependent
# float32 (and narrower) inputs: their rounding (6e-8 relative) is the precision of any dependence
NARROW = {"rcond": torch.finfo(torch.float32).eps, "constant": 1e-6, "collinear": torch.finfo(torch.float32).eps ** 0.5}


def _tolerances(x: torch.Tensor) -> tuple[float, float, float]:
    """(rcond, constant, collinear) tolerances for x's dtype: float64's above, or NARROW for float32 and narrower."""
    if x.dtype == torch.float64 or not x.is_floating_point():
        return RCOND, CONSTANT_RTOL, COLLINEAR_RTOL
    return NARROW["rcond"], NARROW["constant"], NARROW["collinear"]


@dataclass
class LinearSolution:
    weight: torch.Tensor          # (T, D) float64
    bias: torch.Tensor            # (T,) float64
    objective: float              # f at (weight, bias)
    rank: int                     # numerical rank of the centred X (l2 = 0; D when l2 > 0)


def _as_matrices(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, …) → (N, D) float64; y (N,) or (N, T) → (N, T) float64, on x's device."""
    x = x.reshape(len(x), -1).double()
    return x, y.reshape(len(y), -1).double().to(x.device)


def objective(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, y: torch.Tensor, l2: float) -> float:
    """f(W, b) of the module docstring in float64: weight (T, D), bias (T,), x (N, D), y (N,) or (N, T)."""
    x, y = _as_matrices(x, y)
    w = weight.double().to(x.device)
    err = x @ w.T + bias.double().to(x.device) - y
    return float(err.pow(2).mean() + l2 * w.pow(2).sum())


def fit(x: torch.Tensor, y: torch.Tensor, l2: float = 0.0) -> LinearSolution:
    """The exact minimiser of f for x (N, …) features and y (N,) or (N, T) targets, in float64 on x's device."""
    number("trainer.l2", l2, 0)
    rcond = _tolerances(x)[0]
    x, y = _as_matrices(x, y)
    n, d = x.shape
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc, yc = x - x_mean, y - y_mean
    if l2 > 0:
        gram = xc.T @ xc / n + y.shape[1] * l2 * torch.eye(d, dtype=x.dtype, device=x.device)
        w = torch.cholesky_solve(xc.T @ yc / n, torch.linalg.cholesky(gram))      # (D, T)
        rank = d
    else:
        u, s, vh = torch.linalg.svd(xc, full_matrices=False)                       # xc = U diag(s) Vᵀ
        keep = s > rcond * max(n, d) * (s[0] if len(s) else 0.0)
        w = vh[keep].T @ ((u[:, keep].T @ yc) / s[keep, None])                     # (D, T), minimum norm
        rank = int(keep.sum())
    weight, bias = w.T.contiguous(), y_mean - x_mean @ w
    return LinearSolution(weight, bias, objective(weight, bias, x, y, l2), rank)


def optimum(x: torch.Tensor, y: torch.Tensor, l2: float = 0.0) -> float:
    """min f over (W, b) for these train rows: a gradient run's gap is its train objective minus this."""
    return fit(x, y, l2).objective


@torch.no_grad()
def dependent_columns(x: torch.Tensor) -> tuple[list[int], list[int]]:
    """(constant, collinear) column indices of x (N, D): constant columns take one value; a collinear column is,
    after centring, a linear combination of the non-constant columns before it (in column order, so of two equal
    columns the second is named). Gram–Schmidt on the unit-length centred columns, twice per column. O(N·D²)."""
    _, constant_rtol, collinear_rtol = _tolerances(x)
    x = x.reshape(len(x), -1).double()
    xc = x - x.mean(0)
    scale = x.abs().amax(0) if len(x) else x.new_zeros(x.shape[1])
    constant = (xc.abs().amax(0) <= constant_rtol * scale) if len(x) else torch.ones(x.shape[1], dtype=torch.bool)
    basis = x.new_zeros(len(x), 0)
    collinear = []
    for j in range(x.shape[1]):
        if constant[j]:
            continue
        v = xc[:, j] / xc[:, j].norm()
        for _ in range(2):
            v = v - basis @ (basis.T @ v)
        if v.norm() <= collinear_rtol:
            collinear.append(j)
        else:
            basis = torch.cat([basis, (v / v.norm())[:, None]], 1)
    return torch.nonzero(constant).flatten().tolist(), collinear
