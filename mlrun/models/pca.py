"""Principal component analysis: the top-k principal directions of the train split's features (docs/pca.md).

    mlrun train model=pca dataset=digits model.k=10
    mlrun train model=pca dataset=mnist dataset.train_prefix=t10k dataset.test_prefix=null model.k=50
    mlrun train model=pca dataset=digits model.k=3 model.method=deflation       # the seed's method, the reference
    mlrun train model=logistic dataset=mnist dataset.pca_components=50           # PCA as preprocessing: see
                                                                                  # mlrun.datasets.transforms

The numerics are in mlrun.linalg; the D×D covariance is never formed, the rows stream in trainer.batch_size
batches (through the dataset's preprocess). model.method:
  block      all k directions at once: subspace iteration with Rayleigh–Ritz on k + oversample directions.
             One epoch = one iteration = one pass over the train split; its record carries the largest eigen-residual.
  deflation  one component at a time: gradient ascent on vᵀCv + Gram–Schmidt deflation (the seed's, kept bitwise).
             One epoch = one component (many passes).
PCA ignores labels: `adapt_spec` gives the run the unsupervised task (loss reconstruction, metric recon_error,
lower is better), so a supervised dataset can be used as is. Every epoch counts as improved (unless its val error
is NaN): the fit is the latest estimate, not one chosen on val, so best.pt holds the final components.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Iterator

import torch
from torch import nn

from mlrun import linalg
from mlrun.datasets.spec import Data, DataSpec
from mlrun.errors import UserError, check, number
from mlrun.models.base import Model, Records
from mlrun.metrics.records import epoch_record
from mlrun.metrics.scoring import evaluate

log = logging.getLogger("mlrun")

METHODS = ("block", "deflation")
DEFLATION_LR = 10.0            # the seed's ascent step (model.lr=null with method=deflation)


class PCA(Model):
    tasks = ("regression", "binary", "multiclass", "unsupervised")   # dataset tasks it learns (labels unused)

    @classmethod
    def adapt_spec(cls, spec: DataSpec) -> DataSpec:
        """A copy of the dataset's spec as an unsupervised task: one output (‖x − x̂‖² per example), loss
        `reconstruction`, monitored metric `recon_error`."""
        return dataclasses.replace(spec, task="unsupervised", n_outputs=1, loss="reconstruction",
                                   metric="recon_error")

    def __init__(self, spec: DataSpec, k: int = 10, method: str = "block", lr: float | None = None,
                 tol: float = 1e-4, max_iter: int = 1000, oversample: int | None = None, unbiased: bool = True,
                 compare_max_dim: int = 4096):
        """The top-k principal directions of the train split's features (see the module). `spec` is only read."""
        super().__init__()
        d = spec.n_features
        number("model.k", k, 1, d, integer=True)
        check(method in METHODS, "model.method", method, f"valid choices are {', '.join(METHODS)}")
        if method == "deflation":
            lr = DEFLATION_LR if lr is None else lr
            number("model.lr", lr, 0, low_open=True)
            check(oversample is None, "model.oversample", oversample,
                  "only method=block iterates extra directions; leave it null with method=deflation")
        else:
            check(lr is None, "model.lr", lr, "method=block takes no step size (each iteration is a full power "
                  "step); leave it null, or set model.method=deflation")
            oversample = linalg.default_oversample(k) if oversample is None else oversample
            number("model.oversample", oversample, 0, integer=True)
        number("model.tol", tol, 0, low_open=True)
        number("model.max_iter", max_iter, 1, integer=True)
        check(isinstance(unbiased, bool), "model.unbiased", unbiased, "must be true (divide by N−1) or false (by N)")
        number("model.compare_max_dim", compare_max_dim, 0, integer=True)
        self.k, self.method, self.lr, self.tol, self.max_iter, self.unbiased = k, method, lr, tol, max_iter, unbiased
        self.block_size = k if method == "deflation" else min(d, k + oversample)   # directions iterated
        self.compare_max_dim = compare_max_dim
        self.flatten = nn.Flatten()
        self.register_buffer("mean", torch.zeros(d))                       # train mean (D,)
        self.components = nn.Parameter(torch.zeros(k, d), requires_grad=False)   # orthonormal rows (k, D)
        self.register_buffer("eigenvalues", torch.zeros(k))                # v_jᵀ C v_j, descending
        self.register_buffer("total_variance", torch.zeros(()))            # trace(C) = Σ of all D eigenvalues
        # seeded start vectors (not saved): (k, D) for deflation, (k + oversample, D) for block
        self.register_buffer("start", torch.randn(self.block_size, d), persistent=False)
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
        if not len(x):
            raise UserError("model=pca: no rows to fit")
        started = time.perf_counter()
        batches = linalg.row_batches(x, batch_size, preprocess)
        with linalg.Progress("model=pca", self.tol) as progress:
            info = list(self._steps(batches, len(x), progress))
        self.report = self._fit_report(info, time.perf_counter() - started)
        return self

    def _steps(self, batches: linalg.Batches, n_rows: int, progress: linalg.Progress) -> Iterator:
        """Fit mean and total variance, then the components: yields each deflation component (dict) or block
        step (linalg.BlockStep) after copying it into the model."""
        dtype = self.components.dtype
        mean, trace = linalg.moments(batches, n_rows, self.unbiased, dtype)
        with torch.no_grad():
            self.mean.copy_(mean)
            self.total_variance.copy_(trace)
            self.components.zero_()
            self.eigenvalues.zero_()
        floor = 1e-12 * float(self.total_variance)       # variance left below this: no direction to find
        if self.method == "deflation":
            for comp in linalg.deflation(batches, n_rows, self.mean, self.start, self.lr, self.tol, self.max_iter,
                                         self.unbiased, floor, progress):
                with torch.no_grad():
                    self.components[comp["component"] - 1] = comp["vector"]
                    self.eigenvalues[comp["component"] - 1] = comp["eigenvalue"]
                progress.component(comp)
                yield comp
            return
        start = self.start.T.to(dtype)                                      # (D, p)
        for step in linalg.block(batches, n_rows, self.mean, start, self.k, self.tol, self.max_iter,
                                 self.unbiased, floor, progress):
            with torch.no_grad():
                self.components.copy_(step.vectors)
                self.eigenvalues.copy_(step.values)
            yield step
        if not step.converged:
            log.warning("model=pca: stopped at model.max_iter=%d with eigen-residual %.3g > model.tol=%g",
                        self.max_iter, float(step.residuals.max()), self.tol)

    @property
    def fit_direct(self):
        """The run calls this instead of the gradient loop: one record per iteration (block) or component."""
        return self._fit_direct

    def _fit_direct(self, data: Data, trainer, loss_fn) -> Records:
        n_rows = len(data.train)
        if not n_rows:
            raise UserError("model=pca: the train split is empty")
        batch = trainer.plan(n_rows)[1]
        batches = linalg.row_batches(data.train.x, batch, data.preprocess)
        net = self if data.preprocess is None else nn.Sequential(data.preprocess, self)
        task, metric = data.spec.task, data.spec.metric
        if task != "unsupervised":          # a run must build PCA with its adapt_spec (mlrun.models.base)
            raise RuntimeError(f"model=pca: the run's spec is {task}, not PCA.adapt_spec's unsupervised one")
        started, info = time.perf_counter(), []
        with linalg.Progress("model=pca", self.tol, per_component=False) as progress:
            for step in self._steps(batches, n_rows, progress):
                info = [*info, step] if self.method == "deflation" else [step]
                val = evaluate(net, data.val, loss_fn, task, trainer.eval_batch_size)
                if self.method == "deflation":
                    train_loss = evaluate(net, data.train, loss_fn, task, trainer.eval_batch_size)["loss"]
                    record = self._component_record(step, info, train_loss, val, metric, n_rows)
                else:
                    record = self._iteration_record(step, val, metric, n_rows)
                yield record, not (len(data.val) and math.isnan(val[metric]))   # the latest estimate is the fit
        self.report = self._summary(data, info, time.perf_counter() - started, batch)

    def _component_record(self, comp: dict, info: list, train_loss: float, val: dict, metric: str,
                          n_rows: int) -> dict:
        """method=deflation: one epoch = one component (val error cannot grow with j: nested subspaces)."""
        total = float(self.total_variance)
        ratios = [c["eigenvalue"] / total if total > 0 else 0.0 for c in info]
        if not comp["converged"]:
            log.warning("model=pca: component %d stopped at model.max_iter=%d with residual %.3g > model.tol=%g",
                        comp["component"], self.max_iter, comp["residual"], self.tol)
        cumulative = 0.0
        for r in ratios:                                   # summed in order, as the seed did
            cumulative += r
        return epoch_record(comp["component"], train_loss, val, metric, comp["seconds"],
                            n_rows * comp["iterations"] / max(comp["seconds"], 1e-9), lr=self.lr,
                            eigenvalue=comp["eigenvalue"], explained_variance_ratio=ratios[-1],
                            cumulative_explained_variance_ratio=cumulative, iterations=comp["iterations"],
                            residual=comp["residual"])

    def _iteration_record(self, step: linalg.BlockStep, val: dict, metric: str, n_rows: int) -> dict:
        """method=block: one epoch = one iteration = one pass over the train split. train_loss, the mean
        ‖x_c − VVᵀx_c‖² over the N train rows, is (trace(C) − Σθ_j)·n/N: no extra pass."""
        total, captured = float(self.total_variance), float(step.values.sum())
        train_loss = max(total - captured, 0.0) * linalg.divisor(n_rows, self.unbiased) / n_rows
        return epoch_record(step.iteration, train_loss, val, metric, step.seconds, n_rows / max(step.seconds, 1e-9),
                            residual=float(step.residuals.max()), converged=int((step.residuals <= self.tol).sum()),
                            explained_variance_ratio=captured / total if total > 0 else 0.0,
                            smallest_eigenvalue=float(step.values[-1]))

    def _fit_report(self, info: list, seconds: float) -> dict:
        """What the fit found: eigenvalues, explained variance, passes, residuals; `info` = the fit's steps."""
        total = float(self.total_variance)
        eig = self.eigenvalues.tolist()
        if self.method == "deflation":
            iterations, residuals = [c["iterations"] for c in info], [c["residual"] for c in info]
            converged, passes = all(c["converged"] for c in info), sum(iterations)
        else:
            iterations, residuals, converged = info[-1].iteration, info[-1].residuals.tolist(), info[-1].converged
            passes = iterations
        report = {"method": self.method, "eigenvalues": eig,
                  "explained_variance_ratio": [e / total if total > 0 else 0.0 for e in eig],
                  "total_variance": total, "iterations": iterations, "residuals": residuals,
                  "all_converged": converged, "passes": passes + 2, "pca_seconds": seconds,
                  "covariance_divisor": "N-1" if self.unbiased else "N", "block_size": self.block_size}
        report["explained_variance_ratio_total"] = sum(report["explained_variance_ratio"])
        return report

    @torch.no_grad()
    def _summary(self, data: Data, info: list, seconds: float, batch: int) -> dict:
        """The fit report, the test explained variance and (D small) the check against eigh."""
        report = self._fit_report(info, seconds)
        if len(data.test):
            err = sse = 0.0
            for xb in linalg.row_batches(data.test.x, batch, data.preprocess)():
                err += float(self(xb).sum())
                sse += float((xb.to(self.mean.dtype) - self.mean).square().sum())
            report["test_explained_variance_ratio"] = 1 - err / sse if sse > 0 else math.nan
        if self.mean.numel() <= self.compare_max_dim:
            report |= self.compare_with_eigh(linalg.row_batches(data.train.x, batch, data.preprocess),
                                             len(data.train))
        return report

    @torch.no_grad()
    def compare_with_eigh(self, batches: linalg.Batches, n_rows: int) -> dict:
        """Against torch.linalg.eigh of the covariance (float64): the max relative eigenvalue error, the min |cos|
        between matching eigenvectors and the largest principal angle (radians) between the two k-dim subspaces
        (well defined even where eigenvalues are nearly equal and single eigenvectors are not).

        Forms the D×D covariance: a check for small D only."""
        start = time.perf_counter()
        values, vectors = linalg.eigh_reference(batches, n_rows, self.mean, self.k, self.unbiased)   # (k,), (D, k)
        scale = values.abs().clamp_min(1e-12 * max(float(values[0]), 1e-300))
        rel = ((self.eigenvalues.double() - values).abs() / scale).max()
        ours = self.components.double()                                     # (k, D)
        cos = (ours @ vectors).diagonal().abs().min()
        # sin of the largest principal angle = ‖(I − UUᵀ)W‖₂ with U = eigh's basis, W = ours (orthonormal)
        sin = torch.linalg.matrix_norm(ours.T - vectors @ (vectors.T @ ours.T), ord=2).clamp(0, 1)
        return {"eigh_max_rel_eigenvalue_error": float(rel), "eigh_min_abs_cos": float(cos),
                "eigh_max_subspace_angle": float(torch.asin(sin)), "eigh_eigenvalues": values.tolist(),
                "eigh_seconds": time.perf_counter() - start}

    def summary_metrics(self) -> dict:
        return dict(self.report)
