"""Logistic regression solved exactly: the full-batch minimiser of mlrun's own objective, in float64.

The objective (what `trainer.l2` means in mlrun.fit.loop.make_step: l2·Σ‖W‖² over weight matrices, added to the
mean loss; biases are not penalised):

    f(W, b) = (1/N) Σ_n CE(x_n W̄ᵀ + b, y_n) + l2 · ‖W‖²_F

binary (one logit, sigmoid):  CE(z, y) = log(1 + e^z) − y z          W (1, D), b (1,)
multiclass (C logits):        CE(z, y) = logsumexp(z) − z_y           W (C, D), b (C,)

scikit-learn's LogisticRegression minimises C_sk Σ_n CE + ½‖W‖² (bias not penalised, lbfgs/newton-cg; binary with
one coefficient row, multiclass multinomial with C rows). Divided by C_sk·N that is f with

    l2 = 1 / (2 · C_sk · N)      ⇔      C_sk = 1 / (2 · N · l2)          (l2 = 0 ⇔ penalty=None)

N = the train rows. f is convex; with l2 > 0 strictly convex in W, so the optimum value is unique (multiclass
biases are unique only up to a common shift, which changes nothing).

Methods (measured on digits, all 1,797 × 64 standardized, 10 classes, one thread of a shared 2-core CPU, best of 3;
experiments/defaults/solver_choice.py, numbers in experiments/defaults/README.md):
- newton: Newton's method with the exact Hessian (K(D+1) square; K = 1 or C) and Armijo backtracking. 7 / 9 / 14
  iterations at l2 = 1e-2 / 1e-4 / 1e-6, ending at ‖∇f‖∞ 7e-13 / 5e-11 / 4e-9, 0.57 / 0.74 / 1.21 s (each Hessian
  ~0.15 s: O(N·K²·D²) time, O(K²·D²) memory; row blocks bound the temporary).
- lbfgs: torch.optim.LBFGS(line_search_fn="strong_wolfe") on the full batch: 78 / 292 / 333 iterations to
  ‖∇f‖∞ ≤ 1e-8, 0.16 / 0.61 / 0.89 s, but its optimum is looser: 3.6e-11 / 1.5e-7 relative above newton's at
  l2 = 1e-4 / 1e-6 (a tighter tol stalls in round-off). O(K·D) memory: the method for wide problems.
`method="auto"` takes newton while K·(D+1) ≤ NEWTON_MAX_PARAMS (the optimum a gap is measured against should be
exact to far below 1e-6; ≤ 3.6× lbfgs's time here, few large products on a GPU), lbfgs beyond.

Without L2 a separable train set has no minimiser (f → 0 as ‖W‖ → ∞): when an iterate classifies every train row
correctly the solver stops with a UserError suggesting trainer.l2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mlrun.errors import UserError, choose, number

METHODS = ("auto", "newton", "lbfgs")
NEWTON_MAX_PARAMS = 4096          # auto: newton while K·(D+1) ≤ this (Hessian 4096² float64 = 128 MiB)
LBFGS_CHUNK = 25                  # lbfgs iterations between the convergence / separation checks
HESSIAN_BLOCK = 2 ** 22           # elements of newton's per-row-block temporary (32 MiB in float64)
ARMIJO = 1e-4                     # sufficient-decrease constant of newton's backtracking


@dataclass
class LogisticSolution:
    weight: torch.Tensor          # (K, D) float64; K = 1 (binary) or C (multiclass)
    bias: torch.Tensor            # (K,) float64
    iterations: int               # newton steps or lbfgs iterations
    objective: float              # f at (weight, bias)
    grad_norm: float              # ‖∇f‖∞ there
    converged: bool               # grad_norm ≤ tol
    method: str                   # newton | lbfgs


def _targets(y: torch.Tensor, n_outputs: int) -> torch.Tensor:
    """(N, K) float64 targets: y itself (N, 1) for binary (0/1), one-hot for C ≥ 2 outputs (y class indices)."""
    if n_outputs == 1:
        return y.reshape(-1, 1).double()
    return F.one_hot(y.reshape(-1).long(), n_outputs).double()


def _design(x: torch.Tensor) -> torch.Tensor:
    """[x, 1] (N, D+1) in float64, rows flattened."""
    x = x.reshape(len(x), -1).double()
    return torch.cat([x, x.new_ones(len(x), 1)], 1)


def _mean_ce(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits z (N, K) against targets t (N, K) from `_targets`."""
    if z.shape[1] == 1:
        return (torch.logaddexp(z, torch.zeros_like(z)) - t * z).mean()   # softplus cuts off at z > 20
    return (torch.logsumexp(z, 1) - (t * z).sum(1)).mean()


def _probs(z: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(z) if z.shape[1] == 1 else torch.softmax(z, 1)


def _value_grad(theta: torch.Tensor, xa: torch.Tensor, t: torch.Tensor, l2: float):
    """f and ∇f (K, D+1) at theta = [W, b] (K, D+1): ∇ = (P − T)ᵀ[x, 1]/N + 2·l2·[W, 0]."""
    z = xa @ theta.T
    w = theta[:, :-1]
    value = _mean_ce(z, t) + l2 * w.pow(2).sum()
    grad = (_probs(z) - t).T @ xa / len(xa)
    grad[:, :-1] += 2 * l2 * w
    return value, grad, z


def objective(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, y: torch.Tensor, l2: float) -> float:
    """f(W, b) of the module docstring, in float64: weight (K, D), bias (K,), x (N, D), y (N,) labels."""
    theta = torch.cat([weight.double(), bias.double().reshape(-1, 1)], 1)
    xa = _design(x).to(theta.device)
    return float(_value_grad(theta, xa, _targets(y.to(theta.device), theta.shape[0]), l2)[0])


def _separated(z: torch.Tensor, t: torch.Tensor) -> bool:
    """Every row classified correctly (strictly): the train set is separable by the current (W, b)."""
    if z.shape[1] == 1:
        return bool(torch.all(torch.where(t[:, 0] > 0.5, z[:, 0] > 0, z[:, 0] < 0)))
    top2 = z.topk(2, dim=1).values
    mine = (z * t).sum(1)
    return bool(torch.all((mine == top2[:, 0]) & (top2[:, 0] > top2[:, 1])))


def _check_separable(l2: float, z: torch.Tensor, t: torch.Tensor) -> None:
    if l2 == 0 and _separated(z, t):
        raise UserError("trainer.l2=0: the train classes are linearly separable, so the exact logistic fit has no "
                        "finite optimum (weights grow without bound); set trainer.l2 > 0, e.g. trainer.l2=1e-4")


def _hessian(xa: torch.Tensor, z: torch.Tensor, l2: float) -> torch.Tensor:
    """∇²f (K(D+1), K(D+1)), rows ordered class-major like theta.reshape(-1).

    binary: Xᵀ diag(p(1−p)) X / N;  multiclass: block (c, c') = Xᵀ diag(p_c δ_cc' − p_c p_c') X / N; + 2·l2 on W.
    Summed over blocks of rows so the (rows, K(D+1)) temporary stays ≤ HESSIAN_BLOCK elements.
    """
    n, d1 = xa.shape
    p = _probs(z)
    k = p.shape[1]
    h = xa.new_zeros(k, d1, k, d1)
    rows = max(1, HESSIAN_BLOCK // (k * d1))
    for start in range(0, n, rows):
        xb, pb = xa[start:start + rows], p[start:start + rows]
        if k == 1:
            h[0, :, 0, :] += (xb * (pb * (1 - pb))).T @ xb
            continue
        zx = pb[:, :, None] * xb[:, None, :]                                # (B, K, D+1): p_c x
        idx = torch.arange(k)
        h[idx, :, idx, :] += zx.permute(1, 2, 0) @ xb                       # Xᵀ diag(p_c) X
        zx = zx.reshape(len(xb), k * d1)
        h -= (zx.T @ zx).reshape(k, d1, k, d1)                              # − Xᵀ diag(p_c p_c') X
    h = h.reshape(k * d1, k * d1) / n
    penalised = torch.ones(k, d1, dtype=h.dtype, device=h.device)
    penalised[:, -1] = 0
    return h + torch.diag(2 * l2 * penalised.reshape(-1))


def _newton(theta, xa, t, l2, tol, max_iter):
    """Damped Newton: solve (H + δI) s = −g (δ tiny: the multiclass bias-shift direction is flat), then halve the
    step until f drops by ARMIJO·|gᵀs|. Returns (theta, iterations, value, grad_norm)."""
    value, grad, z = _value_grad(theta, xa, t, l2)
    for it in range(max_iter + 1):
        gnorm = float(grad.abs().max())
        _check_separable(l2, z, t)
        if gnorm <= tol or it == max_iter:
            return theta, it, float(value), gnorm
        h = _hessian(xa, z, l2)
        delta = 1e-12 * float(h.diagonal().abs().max()) + 1e-300
        eye = torch.eye(len(h), dtype=h.dtype, device=h.device)
        step = -torch.linalg.solve(h + delta * eye, grad.reshape(-1)).reshape(theta.shape)
        slope = float((grad * step).sum())
        size = 1.0
        while True:
            trial = theta + size * step
            new_value, new_grad, new_z = _value_grad(trial, xa, t, l2)
            if new_value <= value + ARMIJO * size * slope or size < 1e-10:
                break
            size /= 2
        if new_value > value:                     # no decrease at all: round-off floor reached
            return theta, it, float(value), gnorm
        theta, value, grad, z = trial, new_value, new_grad, new_z
    raise AssertionError("unreachable")


def _lbfgs(theta, xa, t, l2, tol, max_iter):
    """torch.optim.LBFGS (strong Wolfe, history 20) on the full batch, LBFGS_CHUNK iterations per step() call
    (its history carries over) with the convergence and separation checks between calls."""
    theta = theta.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1, max_iter=LBFGS_CHUNK, history_size=20, tolerance_grad=tol,
                            tolerance_change=0.0, line_search_fn="strong_wolfe")

    def closure():
        value, grad, _ = _value_grad(theta.detach(), xa, t, l2)
        theta.grad = grad
        return value

    done = 0
    while True:
        with torch.no_grad():
            value, grad, z = _value_grad(theta.detach(), xa, t, l2)
        gnorm = float(grad.abs().max())
        _check_separable(l2, z, t)
        if gnorm <= tol or done >= max_iter:
            return theta.detach(), done, float(value), gnorm
        opt.param_groups[0]["max_iter"] = min(LBFGS_CHUNK, max_iter - done)
        before = opt.state[theta].get("n_iter", 0)
        opt.step(closure)
        ran = opt.state[theta]["n_iter"] - before
        done += ran
        if ran == 0 or not torch.isfinite(theta).all():
            return theta.detach(), done, float(value), gnorm


def fit(x: torch.Tensor, y: torch.Tensor, n_outputs: int, l2: float = 0.0, tol: float = 1e-8,
        max_iter: int = 1000, method: str = "auto") -> LogisticSolution:
    """The minimiser of f (module docstring) for x (N, …) features and y (N,) labels: 0/1 when n_outputs = 1
    (binary, one logit), class indices in [0, n_outputs) otherwise. Runs in float64 on x's device; starts at 0.
    Stops when ‖∇f‖∞ ≤ tol or after max_iter iterations (converged=False)."""
    number("trainer.l2", l2, 0)
    number("tol", tol, 0, low_open=True)
    number("max_iter", max_iter, 1, integer=True)
    method = choose({m: m for m in METHODS}, "method", method)
    xa = _design(x)
    t = _targets(y.to(xa.device), n_outputs)
    if method == "auto":
        method = "newton" if n_outputs * xa.shape[1] <= NEWTON_MAX_PARAMS else "lbfgs"
    theta = xa.new_zeros(n_outputs, xa.shape[1])
    with torch.no_grad():
        solve = _newton if method == "newton" else _lbfgs
        theta, iterations, value, gnorm = solve(theta, xa, t, float(l2), tol, max_iter)
    if not math.isfinite(value):
        raise UserError(f"trainer.l2={l2}: the exact logistic fit diverged (objective {value}); raise trainer.l2")
    return LogisticSolution(theta[:, :-1].clone(), theta[:, -1].clone(), iterations, value, gnorm,
                            gnorm <= tol, method)


def optimum(x: torch.Tensor, y: torch.Tensor, n_outputs: int, l2: float = 0.0, tol: float = 1e-8) -> float:
    """min f over (W, b) for these train rows: a gradient run's gap is its train objective minus this."""
    return fit(x, y, n_outputs, l2, tol).objective
