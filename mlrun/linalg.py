"""The numerical core of PCA, streamed over row batches: the D×D covariance is never formed (except by the checks).

    from mlrun.linalg import block, moments
    batches = lambda: (x[i:i + 1024] for i in range(0, len(x), 1024))   # each call: a fresh pass, (B, D) floats
    mean, total_variance = moments(batches, len(x))
    for step in block(batches, len(x), mean, start=torch.randn(784, 100), k=50):
        print(step.iteration, step.residuals.max())                     # the last step holds the answer

X_c is the data centred with its mean, C = X_cᵀX_c/n its covariance (n = N − 1 unbiased, N maximum likelihood).
Two methods, both touching the data only through products with a few vectors:

- `block` (all k directions at once; subspace iteration with Rayleigh–Ritz): V (D, p) orthonormal, p = k + oversample.
  One pass over the rows gives Z = CV = X_cᵀ(X_c V)/n; the p×p projected matrix H = VᵀZ = S Θ Sᵀ gives the Ritz
  pairs (θ_j, V s_j) in descending order, their eigen-residuals ‖C V s_j − θ_j V s_j‖ = ‖Z s_j − θ_j V s_j‖ for free,
  and the next basis V ← QR(Z S) (a power step, then re-orthonormalisation). Direction j converges like
  (λ_{p+1}/λ_j)^t, the eigenvalue like its square: oversampling buys speed. Extra memory O(min(N·D, 32 MB) + p·D).
- `deflation` (the seed's, kept as the reference): one component at a time by gradient ascent on vᵀCv, each step
  Gram–Schmidt-deflated against the components found before it. Memory O(B·D + k·D).

A fit stops when every wanted eigen-residual is ≤ tol·θ_j (or θ_j carries no variance), or after max_iter passes.
`Progress` reports long fits: a tqdm bar on a terminal, otherwise a log line every ~2 s (and per component).
This module imports nothing from mlrun's models, datasets or loop: both model=pca and dataset.pca_components use it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

log = logging.getLogger("mlrun")

Batches = Callable[[], Iterator[torch.Tensor]]   # each call: a fresh pass over the rows, (B, D) float batches
PROGRESS_SECONDS = 2.0                           # without a terminal: at most one progress line per this many s
CENTRED_BYTES = 32 * 2**20                       # block: the buffer of centred rows, bytes at most


# ---- rows and covariance helpers

def row_batches(x: torch.Tensor, batch_size: int, preprocess: torch.nn.Module | None = None) -> Batches:
    """A callable giving a fresh pass over x (N, *shape) in row slices, through `preprocess` (eval mode, no
    grad) if given, flattened to float (B, D)."""
    if preprocess is not None:
        preprocess.eval()

    def passes() -> Iterator[torch.Tensor]:
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            if preprocess is not None:
                with torch.no_grad():
                    xb = preprocess(xb)
            xb = xb.reshape(len(xb), -1)
            yield xb if xb.is_floating_point() else xb.float()

    return passes


def divisor(n_rows: int, unbiased: bool) -> int:
    """The covariance's denominator: N − 1 (unbiased, E[C] = Σ) or N (maximum likelihood, E[C] = (N−1)/N·Σ)."""
    return max(n_rows - 1, 1) if unbiased else max(n_rows, 1)


def covariance(x: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """The sample covariance (…, D, D) of rows x (…, N, D), centred with their mean. Forms D×D: only for checks."""
    xc = x - x.mean(-2, keepdim=True)
    return xc.transpose(-1, -2) @ xc / divisor(x.shape[-2], unbiased)


@torch.no_grad()
def moments(batches: Batches, n_rows: int, unbiased: bool = True,
            dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (D,) in `dtype`, total variance trace(C) (0-d, float64)) on the rows' device, from two passes summed
    in float64. No (B, D) temporaries: the trace expands ‖x − μ‖² = ‖x‖² − 2x·μ + ‖μ‖², μ rounded to `dtype`."""
    total = None
    for xb in batches():
        part = xb.to(dtype).sum(0).double()
        total = part if total is None else total + part
    if total is None:
        raise ValueError("moments: no rows")
    mean = (total / max(n_rows, 1)).to(dtype)
    trace, mean_sq = torch.zeros((), dtype=torch.float64, device=total.device), mean.double().square().sum()
    for xb in batches():
        xb = xb.to(dtype)
        rows_sq = torch.linalg.vector_norm(xb, dim=1).double().square()
        trace += (rows_sq - 2 * (xb @ mean).double() + mean_sq).sum()
    return mean, trace / divisor(n_rows, unbiased)


@torch.no_grad()
def eigh_reference(batches: Batches, n_rows: int, mean: torch.Tensor, k: int,
                   unbiased: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k eigenvalues (k,) and eigenvectors (D, k), descending, float64, by torch.linalg.eigh of the D×D
    covariance about `mean`. Forms D×D: a check for small D only."""
    d = mean.numel()
    cov = torch.zeros(d, d, dtype=torch.float64, device=mean.device)
    mean = mean.double()
    for xb in batches():
        xc = xb.double() - mean
        cov += xc.T @ xc
    values, vectors = torch.linalg.eigh(cov / divisor(n_rows, unbiased))
    return values.flip(0)[:k], vectors.flip(1)[:, :k]


def sign_fixed(vectors: torch.Tensor) -> torch.Tensor:
    """Rows (k, D) with each row's largest-magnitude entry positive: one answer per eigenvector, not ±."""
    pick = vectors.gather(1, vectors.abs().argmax(1, keepdim=True))          # (k, 1)
    return vectors * torch.where(pick < 0, -1.0, 1.0).to(vectors.dtype)


# ---- block method: all k directions at once

def default_oversample(k: int) -> int:
    """Extra directions iterated beside the k wanted: max(k, 10). Each pass costs ∝ k + oversample; direction j
    converges like (λ_{k+oversample+1}/λ_j)^t (MNIST, k=50: 9 passes with 50 extra, 27 with 10)."""
    return max(k, 10)


@dataclass
class BlockStep:
    iteration: int                 # passes over the rows so far (one per iteration)
    values: torch.Tensor           # (k,) Ritz values θ_j, descending, float64: the eigenvalue estimates
    vectors: torch.Tensor          # (k, D) Ritz vectors, orthonormal rows, sign-fixed (largest entry positive)
    residuals: torch.Tensor        # (k,) ‖Cv_j − θ_j v_j‖/θ_j, float64 (0 where θ_j carries no variance)
    converged: bool                # every residual ≤ tol
    seconds: float                 # this iteration's wall time


def block(batches: Batches, n_rows: int, mean: torch.Tensor, start: torch.Tensor, k: int, tol: float = 1e-4,
          max_iter: int = 1000, unbiased: bool = True, floor: float = 0.0,
          progress: Callable[[dict], None] | None = None) -> Iterator[BlockStep]:
    """Top-k principal directions by subspace iteration with Rayleigh–Ritz (see the module); one step per pass.

    start: (D, p) start block, p ≥ k (p − k = oversampling; p = D makes the first Ritz pairs exact); it is
    orthonormalised first. The rows are centred in `start`'s dtype into a buffer of at most CENTRED_BYTES, so
    the products (and the result) do not depend on how `batches` slices the rows. Yields a `BlockStep` after
    every pass, the last one when converged or after `max_iter` passes. floor: a Ritz value ≤ floor carries no
    variance (rank < k) and counts as converged. progress(dict(iteration, residual, converged, of)) each pass.
    """
    d, p = start.shape
    if not k <= p <= d:
        raise ValueError(f"block: need k ≤ p ≤ D, got k={k}, start {tuple(start.shape)}")
    dtype = start.dtype
    n = divisor(n_rows, unbiased)
    with torch.no_grad():
        mean = mean.to(dtype)
        v = torch.linalg.qr(start)[0]                                         # (D, p) orthonormal
        # rows are gathered, centred, into one buffer of at most CENTRED_BYTES and multiplied a buffer at a time:
        # centring first keeps float32's digits when the mean is large against the spread (x·v − μ·v loses them),
        # and big products are fast whatever the batch size. Extra memory O(min(N·D, 32 MB) + p·D).
        rows = max(1, min(n_rows, CENTRED_BYTES // (d * start.element_size())))
        buffer = torch.empty(rows, d, dtype=dtype, device=start.device)
        for it in range(1, max_iter + 1):
            began = time.perf_counter()
            z = torch.zeros_like(v)                                           # C V, (D, p)
            filled = 0
            for xb in batches():
                i = 0
                while i < len(xb):
                    take = min(len(xb) - i, rows - filled)
                    torch.sub(xb[i:i + take].to(dtype), mean, out=buffer[filled:filled + take])
                    filled, i = filled + take, i + take
                    if filled == rows:
                        z.addmm_(buffer.T, buffer @ v)                        # += X_cᵀ (X_c V), in place
                        filled = 0
            if filled:
                z.addmm_(buffer[:filled].T, buffer[:filled] @ v)
            z /= n
            h = v.double().T @ z.double()                                     # VᵀCV (p, p), float64
            theta, s = torch.linalg.eigh((h + h.T) / 2)
            theta, s = theta.flip(0), s.flip(1).to(dtype)                     # descending
            ritz, cz = v @ s, z @ s                                           # Ritz vectors and C·them (D, p)
            top = theta[:k]
            res = torch.linalg.vector_norm(cz[:, :k] - ritz[:, :k] * top.to(dtype), dim=0).double()
            res = torch.where(top > floor, res / top.clamp_min(torch.finfo(torch.float64).tiny), 0.0)
            worst = float(res.max())                                          # one host sync per pass
            done = worst <= tol
            if progress is not None:
                progress({"iteration": it, "residual": worst, "converged": int((res <= tol).sum()), "of": k})
            yield BlockStep(it, top, sign_fixed(ritz[:, :k].T), res, done, time.perf_counter() - began)
            if done:
                return
            v = torch.linalg.qr(cz)[0]                                        # power step, re-orthonormalised


# ---- deflation (the seed's method, bitwise as it was in mlrun.models.pca)

def _orthogonalise(v: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
    """v (D,) minus its projection on the orthonormal rows of `found` (j, D); twice, for round-off ("twice is
    enough"); then unit length."""
    for _ in range(2):
        v = v - found.T @ (found @ v)
    return v / v.norm().clamp_min(torch.finfo(v.dtype).tiny)


def _objective(v: torch.Tensor, mean: torch.Tensor, batches: Batches, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """f(v) = ‖X_c v‖²/n and its gradient 2Cv by autograd, one pass over the rows; never X_cᵀX_c."""
    v = v.detach().requires_grad_(True)
    f = torch.zeros((), dtype=v.dtype, device=v.device)
    with torch.enable_grad():
        for xb in batches():
            # X_c v for this batch (B,); (mean·v) as mul+sum: a dot here makes backward ~6× slower on CPU
            z = xb.to(v.dtype) @ v - (mean * v).sum()
            q = z.square().sum() / n
            q.backward()                                                # accumulates 2 X_cᵀ z / n into v.grad
            f += q.detach()
    return f, v.grad


def deflation(batches: Batches, n_rows: int, mean: torch.Tensor, start: torch.Tensor, lr: float = 10.0,
              tol: float = 1e-4, max_iter: int = 1000, unbiased: bool = True, floor: float = 0.0,
              progress: Callable[[dict], None] | None = None) -> Iterator[dict]:
    """Top-k components one at a time by gradient ascent with deflation; yields one dict per component.

    start: (k, D) start vectors. Component j maximises f(v) = vᵀCv = ‖X_c v‖²/n over unit v orthogonal to the
    components before it; ∇f = 2Cv by autograd. One step, relative to the eigenvalue estimate f (lr → ∞: power
    method):  v ← v + lr·∇f/(2f);  v ← v − Vᵀ(V v), v ← v/‖v‖.  Done when ‖P(Cv) − f·v‖ ≤ tol·f (P projects out the
    found V), f ≤ floor, or after max_iter steps. Dict: component, vector (D,), eigenvalue, iterations, residual
    (relative), converged, seconds. progress(dict(component, of, iteration, residual)) after every step.
    """
    k = start.shape[0]
    dtype = mean.dtype
    n = divisor(n_rows, unbiased)
    found_all = torch.zeros(k, mean.numel(), dtype=dtype, device=mean.device)
    for j in range(k):
        began = time.perf_counter()
        found = found_all[:j]
        v = _orthogonalise(start[j].to(dtype), found)
        for it in range(1, max_iter + 1):
            f, grad = _objective(v, mean, batches, n)
            cv = grad / 2 - found.T @ (found @ (grad / 2))            # P C v, the deflated operator's action
            residual = float((cv - f * v).norm())                   # one host sync per pass over the data
            f = float(f)
            if progress is not None:
                progress({"component": j + 1, "of": k, "iteration": it, "residual": residual / f if f > 0 else 0.0})
            if f <= floor or residual <= tol * f:
                break
            v = _orthogonalise(v + lr * cv / f, found)
        v = v * torch.sign(v[v.abs().argmax()])                      # sign: largest entry positive
        with torch.no_grad():
            found_all[j] = v
        yield {"component": j + 1, "vector": found_all[j], "eigenvalue": f, "iterations": it,
               "residual": residual / f if f > 0 else 0.0, "converged": f <= floor or residual <= tol * f,
               "seconds": time.perf_counter() - began}


# ---- progress of long fits

class Progress:
    """Progress of one fit, fed by `block`/`deflation`'s progress callback.

    On a terminal (stderr a TTY): a tqdm bar of passes with the current residual. Otherwise log lines on the
    "mlrun" logger: at most one per PROGRESS_SECONDS, plus one per finished component (`component`, deflation)
    when `per_component`. `label` starts each line, e.g. "model=pca" or "dataset.pca_components=50".
    """

    def __init__(self, label: str, tol: float, per_component: bool = True, tty: bool | None = None):
        self.label, self.tol, self.per_component = label, tol, per_component
        self.every = PROGRESS_SECONDS
        self.began = self.last = time.perf_counter()
        self.bar, self.stack = None, contextlib.ExitStack()
        if sys.stderr.isatty() if tty is None else tty:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self.bar = self.stack.enter_context(tqdm(unit="pass", desc=label, dynamic_ncols=True, leave=False,
                                                     file=sys.stderr))
            self.stack.enter_context(logging_redirect_tqdm())        # log lines print above the bar

    def __call__(self, state: dict) -> None:
        where = (f"component {state['component']}/{state['of']} iteration {state['iteration']}"
                 if "component" in state else
                 f"iteration {state['iteration']}, {state['converged']}/{state['of']} converged")
        if self.bar is not None:
            self.bar.set_postfix_str(f"{where}, residual {state['residual']:.2e}", refresh=False)
            self.bar.update(1)
            return
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            log.info("%s: %s, residual %.2e (tol %g), %.1fs", self.label, where, state["residual"], self.tol,
                     now - self.began)

    def component(self, comp: dict) -> None:
        """A deflation component is finished: one line, without a terminal (on one, the bar shows it)."""
        if self.bar is None and self.per_component:
            self.last = time.perf_counter()
            log.info("%s: component %d done: eigenvalue %.4g, %d iterations, residual %.2e%s", self.label,
                     comp["component"], comp["eigenvalue"], comp["iterations"], comp["residual"],
                     "" if comp["converged"] else " (max_iter reached)")

    def close(self) -> None:
        self.stack.close()
        self.bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
