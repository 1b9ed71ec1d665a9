"""Principal component analysis by gradient ascent with deflation: the D×D covariance is never formed.

    mlrun train model=pca dataset=digits model.k=10
    mlrun train model=pca dataset=mnist model.k=50 trainer.batch_size=1024     # rows per (Xv) product
    mlrun train model=logistic dataset=mnist dataset.pca_components=50          # PCA as preprocessing

Component j maximises f(v) = vᵀCv = ‖X_c v‖²/n over unit vectors v orthogonal to the components found before it,
where X_c is the train split centred with its mean and C = X_cᵀX_c/n its covariance (n = N−1 with unbiased=true,
n = N, the maximum-likelihood estimate, with unbiased=false). The gradient ∇f = 2Cv = 2X_cᵀ(X_c v)/n comes from
autograd on ‖X_c v‖²/n summed over mini-batches of rows, so the working memory is O(batch·D + k·D). One step:

    v ← v + lr·∇f/(2f)            ascent, step relative to the eigenvalue estimate f (lr → ∞: power method)
    v ← v − Vᵀ(V v), v ← v/‖v‖    deflation: Gram–Schmidt against the found components V, renormalise

A component is done when its eigen-residual ‖P(Cv) − f·v‖ ≤ tol·f (P projects out V), or after max_iter steps.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Callable, Iterator

import torch
from torch import nn

from mlrun.models.base import Model
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.errors import UserError, check, number

log = logging.getLogger("mlrun")

Batches = Callable[[], Iterator[torch.Tensor]]   # each call: a fresh pass over the rows, (B, D) float batches


def divisor(n_rows: int, unbiased: bool) -> int:
    """The covariance's denominator: N − 1 (unbiased, E[C] = Σ) or N (maximum likelihood, E[C] = (N−1)/N·Σ)."""
    return max(n_rows - 1, 1) if unbiased else max(n_rows, 1)


def covariance(x: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """The sample covariance (…, D, D) of rows x (…, N, D), centred with their mean. Forms D×D: only for checks."""
    xc = x - x.mean(-2, keepdim=True)
    return xc.transpose(-1, -2) @ xc / divisor(x.shape[-2], unbiased)


def _orthogonalise(v: torch.Tensor, found: torch.Tensor) -> torch.Tensor:
    """v (D,) minus its projection on the orthonormal rows of `found` (j, D); twice, for round-off ("twice is
    enough"); then unit length."""
    for _ in range(2):
        v = v - found.T @ (found @ v)
    return v / v.norm().clamp_min(torch.finfo(v.dtype).tiny)


class PCA(Model):
    tasks = ("regression", "binary", "multiclass", "unsupervised")   # dataset tasks it learns (checked once by mlrun.build.model)
    def __init__(self, spec: DataSpec, k: int = 10, lr: float = 10.0, tol: float = 1e-4, max_iter: int = 1000,
                 unbiased: bool = True, compare_max_dim: int = 4096):
        """The top-k principal directions of the train split's features, found by gradient ascent (see the module).

        PCA ignores labels: building it turns `spec` into the unsupervised task (loss `reconstruction`, monitored
        metric `recon_error`, lower is better), so a supervised dataset can be used as is.
        """
        super().__init__()
        d = spec.n_features
        number("model.k", k, 1, d, integer=True)
        number("model.lr", lr, 0, low_open=True)
        number("model.tol", tol, 0, low_open=True)
        number("model.max_iter", max_iter, 1, integer=True)
        check(isinstance(unbiased, bool), "model.unbiased", unbiased, "must be true (divide by N−1) or false (by N)")
        number("model.compare_max_dim", compare_max_dim, 0, integer=True)
        spec.task, spec.n_outputs, spec.loss, spec.metric = "unsupervised", 1, "reconstruction", "recon_error"
        self.k, self.lr, self.tol, self.max_iter, self.unbiased = k, lr, tol, max_iter, unbiased
        self.compare_max_dim = compare_max_dim
        self.flatten = nn.Flatten()
        self.register_buffer("mean", torch.zeros(d))                       # train mean (D,)
        self.components = nn.Parameter(torch.zeros(k, d), requires_grad=False)   # orthonormal rows, found ones
        self.register_buffer("eigenvalues", torch.zeros(k))                # f(v_j) = v_jᵀ C v_j
        self.register_buffer("total_variance", torch.zeros(()))            # trace(C) = Σ of all D eigenvalues
        self.register_buffer("start", torch.randn(k, d), persistent=False)  # seeded start vectors (not saved)
        self.report: dict = {}                                             # extras for summary.json

    # ---- using a fitted PCA: rows not found yet are zero, so a partly fitted model projects on the found ones
    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (N, k) of x (N, *input_shape) on the components."""
        return (self.flatten(x).to(self.mean.dtype) - self.mean) @ self.components.T

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x̂ = mean + scores·V, flattened (N, D)."""
        return self.mean + self.transform(x) @ self.components

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Squared reconstruction error ‖x − x̂‖² per example (N, 1); the unsupervised loss/metric average it."""
        xc = self.flatten(x).to(self.mean.dtype) - self.mean                # (N, D)
        residual = xc - (xc @ self.components.T) @ self.components
        return residual.square().sum(1, keepdim=True)

    # ---- fitting
    def fit(self, x: torch.Tensor, batch_size: int = 4096, preprocess: nn.Module | None = None) -> "PCA":
        """Fit on rows x (N, *input_shape) (through `preprocess`, if given) without the trainer."""
        for _ in self.components_by_ascent(_batches(x, batch_size, preprocess), len(x)):
            pass
        return self

    def components_by_ascent(self, batches: Batches, n_rows: int) -> Iterator[dict]:
        """Fit mean and components from passes over the rows; yield one dict per component as it is found."""
        dtype, device = self.components.dtype, self.components.device
        n = divisor(n_rows, self.unbiased)
        with torch.no_grad():
            total = torch.zeros(self.mean.shape, dtype=torch.float64, device=device)
            for xb in batches():                # no (B, D) temporaries: sums over rows, then ‖x − μ‖² expanded
                total += xb.to(dtype).sum(0).double()
            self.mean.copy_(total / max(n_rows, 1))
            trace, mean_sq = torch.zeros((), dtype=torch.float64, device=device), self.mean.double().square().sum()
            for xb in batches():
                xb = xb.to(dtype)
                rows_sq = torch.linalg.vector_norm(xb, dim=1).double().square()
                trace += (rows_sq - 2 * (xb @ self.mean).double() + mean_sq).sum()
            self.total_variance.copy_(trace / n)
            self.components.zero_()
            self.eigenvalues.zero_()
        floor = 1e-12 * float(self.total_variance)       # variance left below this: no direction to find
        for j in range(self.k):
            start = time.perf_counter()
            found = self.components[:j]
            v = _orthogonalise(self.start[j].to(dtype), found)
            for it in range(1, self.max_iter + 1):
                f, grad = self._objective(v, batches, n)
                cv = grad / 2 - found.T @ (found @ (grad / 2))            # P C v, the deflated operator's action
                residual = float((cv - f * v).norm())                   # one host sync per pass over the data
                f = float(f)
                if f <= floor or residual <= self.tol * f:
                    break
                v = _orthogonalise(v + self.lr * cv / f, found)
            v = v * torch.sign(v[v.abs().argmax()])                      # sign: largest entry positive
            with torch.no_grad():
                self.components[j] = v
                self.eigenvalues[j] = f
            yield {"component": j + 1, "eigenvalue": f, "iterations": it,
                   "residual": residual / f if f > 0 else 0.0,
                   "converged": f <= floor or residual <= self.tol * f,
                   "seconds": time.perf_counter() - start}

    def _objective(self, v: torch.Tensor, batches: Batches, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """f(v) = ‖X_c v‖²/n and its gradient 2Cv by autograd, one pass over the rows; never X_cᵀX_c."""
        v = v.detach().requires_grad_(True)
        f = torch.zeros((), dtype=v.dtype, device=v.device)
        with torch.enable_grad():
            for xb in batches():
                # X_c v for this batch (B,); (mean·v) as mul+sum: a dot here makes backward ~6× slower on CPU
                z = xb.to(v.dtype) @ v - (self.mean * v).sum()
                q = z.square().sum() / n
                q.backward()                                            # accumulates 2 X_cᵀ z / n into v.grad
                f += q.detach()
        return f, v.grad

    @property
    def fit_direct(self):
        """The trainer calls this instead of its gradient loop (see mlrun.train): one record per component."""
        return self._fit_direct

    def _fit_direct(self, data: Data, trainer, loss_fn) -> Iterator[tuple[dict, bool]]:
        from mlrun.scoring import evaluate

        batch = trainer.plan(len(data.train))[1]
        batches = _batches(data.train.x, batch, data.preprocess)
        net = self if data.preprocess is None else nn.Sequential(data.preprocess, self)
        task, metric = data.spec.task, data.spec.metric
        started, cumulative, info = time.perf_counter(), 0.0, []
        for comp in self.components_by_ascent(batches, len(data.train)):
            info.append(comp)
            ratio = comp["eigenvalue"] / float(self.total_variance) if float(self.total_variance) > 0 else 0.0
            cumulative += ratio
            if not comp["converged"]:
                log.warning("model=pca: component %d stopped at model.max_iter=%d with residual %.3g > model.tol=%g",
                            comp["component"], self.max_iter, comp["residual"], self.tol)
            val = evaluate(net, data.val, loss_fn, task, trainer.eval_batch_size)
            train_loss = evaluate(net, data.train, loss_fn, task, trainer.eval_batch_size)["loss"]
            # val reconstruction error cannot grow with j (nested subspaces), so each component is the best so far
            yield {"epoch": comp["component"], "train_loss": train_loss, "val_loss": val["loss"],
                   f"val_{metric}": val[metric], "lr": self.lr, "epoch_seconds": comp["seconds"],
                   "samples_per_second": len(data.train) * comp["iterations"] / max(comp["seconds"], 1e-9),
                   "eigenvalue": comp["eigenvalue"], "explained_variance_ratio": ratio,
                   "cumulative_explained_variance_ratio": cumulative, "iterations": comp["iterations"],
                   "residual": comp["residual"]}, not (len(data.val) and math.isnan(val[metric]))
        self.report = self._summary(data, info, time.perf_counter() - started, batch)

    @torch.no_grad()
    def _summary(self, data: Data, info: list[dict], seconds: float, batch: int) -> dict:
        """Eigenvalues, explained variance, test explained variance and (D small) the check against eigh."""
        total = float(self.total_variance)
        eig = self.eigenvalues.tolist()
        report = {"eigenvalues": eig, "explained_variance_ratio": [e / total if total > 0 else 0.0 for e in eig],
                  "total_variance": total, "iterations": [c["iterations"] for c in info],
                  "all_converged": all(c["converged"] for c in info), "pca_seconds": seconds,
                  "covariance_divisor": "N-1" if self.unbiased else "N"}
        report["explained_variance_ratio_total"] = sum(report["explained_variance_ratio"])
        if len(data.test):
            err = sse = 0.0
            for xb in _batches(data.test.x, batch, data.preprocess)():
                err += float(self(xb).sum())
                sse += float((xb.to(self.mean.dtype) - self.mean).square().sum())
            report["test_explained_variance_ratio"] = 1 - err / sse if sse > 0 else math.nan
        d = self.mean.numel()
        if d <= self.compare_max_dim:
            report |= self.compare_with_eigh(_batches(data.train.x, batch, data.preprocess), len(data.train))
        return report

    @torch.no_grad()
    def compare_with_eigh(self, batches: Batches, n_rows: int) -> dict:
        """Max relative eigenvalue error and min |cos| against torch.linalg.eigh of the covariance (float64).

        Forms the D×D covariance: a check for small D only."""
        start = time.perf_counter()
        d = self.mean.numel()
        cov = torch.zeros(d, d, dtype=torch.float64, device=self.mean.device)
        mean = self.mean.double()
        for xb in batches():
            xc = xb.double() - mean
            cov += xc.T @ xc
        values, vectors = torch.linalg.eigh(cov / divisor(n_rows, self.unbiased))
        values, vectors = values.flip(0)[:self.k], vectors.flip(1)[:, :self.k]          # descending, (D, k)
        scale = values.abs().clamp_min(1e-12 * max(float(values[0]), 1e-300))
        rel = ((self.eigenvalues.double() - values).abs() / scale).max()
        cos = (self.components.double() @ vectors).diagonal().abs().min()
        return {"eigh_max_rel_eigenvalue_error": float(rel), "eigh_min_abs_cos": float(cos),
                "eigh_eigenvalues": values.tolist(), "eigh_seconds": time.perf_counter() - start}

    def summary_metrics(self) -> dict:
        return dict(self.report)


def _batches(x: torch.Tensor, batch_size: int, preprocess: nn.Module | None = None) -> Batches:
    """A callable giving a fresh pass over x in row slices, preprocessed (eval mode) and flattened to (B, D)."""
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


def maybe_project(data: Data, k: int | None, batch_size: int = 4096) -> Data:
    """`dataset.pca_components=k`: fit this PCA on the train split (through the dataset's preprocess, eval mode)
    and replace every split by its k scores; None leaves `data` as it is.

    The new splits are float features (N, k), so the dataset's preprocess (scaling, augmentation) is folded in
    and dropped. The start vectors come from torch's global generator: the same seed gives the same projection.
    """
    if k is None:
        return data
    if data.spec.task in ("ratings", "trajectory"):
        raise UserError(f"dataset.pca_components={k}: dataset={data.spec.name} ({data.spec.task}) has no feature "
                        f"vectors to project; leave it null")
    d = data.spec.n_features
    number("dataset.pca_components", k, 1, d, integer=True)
    start = time.perf_counter()
    pca = PCA(DataSpec(input_shape=(d,), n_outputs=1, task="unsupervised"), k=k, compare_max_dim=0)
    pca.fit(data.train.x, batch_size, data.preprocess)

    def project(split: Split) -> Split:
        scores = [pca.transform(xb) for xb in _batches(split.x, batch_size, data.preprocess)()]
        return Split(torch.cat(scores) if scores else torch.zeros(0, k), split.y)

    spec = DataSpec(input_shape=(k,), n_outputs=data.spec.n_outputs, task=data.spec.task, name=data.spec.name,
                    loss=data.spec.loss, metric=data.spec.metric, classes=list(data.spec.classes))
    total = float(pca.total_variance)
    log.info("dataset.pca_components=%d: PCA fit on %d train rows in %.2fs, explained variance ratio %.4f", k,
             len(data.train), time.perf_counter() - start, float(pca.eigenvalues.sum()) / total if total else 0.0)
    return Data(project(data.train), project(data.val), project(data.test), spec, preprocess=None)


def without_pca(node):
    """The dataset config without `pca_components` (the builders do not take it; mlrun.train applies it)."""
    from omegaconf import OmegaConf

    if "pca_components" not in node:
        return node
    options = OmegaConf.to_container(node, resolve=True)        # resolved: ${data_root} needs the root config
    options.pop("pca_components", None)
    return OmegaConf.create(options)
