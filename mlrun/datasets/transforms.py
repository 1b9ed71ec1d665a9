"""Transforms of a built dataset, applied by the run after the builder: `dataset.pca_components=k` (docs/pca.md).

    mlrun train model=logistic dataset=digits dataset.pca_components=16     # every split → its 16 PCA scores

The projection is fitted on the train split only (mean and top-k principal directions, by mlrun.linalg's block
method, tol 1e-4, N−1 divisor) and applied to every split. It is not stored: `mlrun eval` rebuilds the dataset and
refits. The fit is deterministic: the start block comes from its own generator seeded with 0 (not the global RNG)
and each direction's sign is fixed (largest entry positive), so the same train split, batch size, device and
thread count give bitwise the same projection; elsewhere it agrees to the fit's tolerance.
"""

from __future__ import annotations

import logging
import time

import torch

from mlrun import linalg
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.errors import UserError, number

log = logging.getLogger("mlrun")

TOL = 1e-4            # every eigen-residual ‖Cv − θv‖ ≤ TOL·θ (eigenvalues then agree with eigh to ~1e-6)
MAX_ITER = 1000       # passes over the train split at most
START_SEED = 0        # the start block's own generator: the projection does not depend on the global RNG


def fit_projection(data: Data, k: int, batch_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor, linalg.BlockStep,
                                                                          float]:
    """(mean (D,), components (k, D), the last block step, total variance) of the train split, through the
    dataset's preprocess."""
    n_rows, d = len(data.train), data.spec.n_features
    batches = linalg.row_batches(data.train.x, batch_size, data.preprocess)
    mean, trace = linalg.moments(batches, n_rows)
    p = min(d, k + linalg.default_oversample(k))
    start = torch.randn(d, p, generator=torch.Generator().manual_seed(START_SEED)).to(mean.device)
    label = f"dataset.pca_components={k}"
    with linalg.Progress(label, TOL) as progress:
        for step in linalg.block(batches, n_rows, mean, start, k, TOL, MAX_ITER, floor=1e-12 * float(trace),
                                 progress=progress):
            pass
    if not step.converged:
        log.warning("%s: stopped after %d passes with eigen-residual %.3g > %g", label, MAX_ITER,
                    float(step.residuals.max()), TOL)
    return mean, step.vectors, step, float(trace)


def maybe_project(data: Data, k: int | None, batch_size: int = 4096) -> Data:
    """`dataset.pca_components=k`: fit PCA on the train split (through the dataset's preprocess, eval mode) and
    replace every split by its k scores (x − mean)·Vᵀ; None leaves `data` as it is.

    The new splits are float features (N, k), so the dataset's preprocess (scaling, augmentation) is folded in
    and dropped. Train statistics only: val and test are projected with train's mean and components.
    """
    if k is None:
        return data
    if data.spec.task in ("ratings", "trajectory"):
        raise UserError(f"dataset.pca_components={k}: dataset={data.spec.name} ({data.spec.task}) has no feature "
                        f"vectors to project; leave it null")
    d = data.spec.n_features
    number("dataset.pca_components", k, 1, d, integer=True)
    if not len(data.train):
        raise UserError(f"dataset.pca_components={k}: the train split is empty; nothing to fit PCA on")
    began = time.perf_counter()
    mean, components, step, total = fit_projection(data, k, batch_size)

    def project(split: Split) -> Split:
        scores = [(xb - mean) @ components.T for xb in linalg.row_batches(split.x, batch_size, data.preprocess)()]
        return Split(torch.cat(scores) if scores else torch.zeros(0, k, device=mean.device), split.y, split.y_scale)

    spec = DataSpec(input_shape=(k,), n_outputs=data.spec.n_outputs, task=data.spec.task, name=data.spec.name,
                    loss=data.spec.loss, metric=data.spec.metric, classes=list(data.spec.classes),
                    profile=data.spec.profile)
    captured = float(step.values.sum())
    log.info("dataset.pca_components=%d: PCA fit on %d train rows in %.2fs (%d iterations, %d passes), explained "
             "variance ratio %.4f", k, len(data.train), time.perf_counter() - began, step.iteration, step.iteration + 2,
             captured / total if total > 0 else 0.0)
    return Data(project(data.train), project(data.val), project(data.test), spec, preprocess=None)


def without_pca(node):
    """The dataset config without `pca_components` (the builders do not take it; the run applies maybe_project)."""
    from omegaconf import OmegaConf

    if "pca_components" not in node:
        return node
    options = OmegaConf.to_container(node, resolve=True)        # resolved: ${data_root} needs the root config
    options.pop("pca_components", None)
    return OmegaConf.create(options)
