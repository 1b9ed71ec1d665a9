"""`optimizer=als`: alternating least squares for model=mf, a solver (mlrun.solvers.Solver) that trains the model
by closed-form sweeps instead of gradient steps.

    mlrun train model=mf optimizer=als dataset=movielens_100k model.k=10 model.reg=10
    mlrun train model=mf optimizer=als dataset=movielens_100k optimizer.noise=1.0 trainer.epochs=45   # Bayesian

J = Σ_Ω (r − μ − b_u − c_i − p_u·q_i)² + λ (‖P‖² + ‖Q‖² + ‖b‖² + ‖c‖²), λ = model.reg (mlrun.models.mf).

- One epoch = one sweep of exact block minimisations: μ (the mean residual), then every user at once, then every
  item at once. The per-user systems come from the sparse rating matrix: Σ_j o_j o_jᵀ for o_j = [q_j, 1] is one
  sparse × dense product (users × items) @ (items × (K+1)²), and the K×K (update=seed) or (K+1)×(K+1)
  (update=joint) systems are solved together by a batched Cholesky factorisation. No Python loop over users or
  items (only over blocks of rows when the stacked matrices would not fit memory). Only the upper triangle of
  o_j o_jᵀ goes through the sparse product ((K+1)(K+2)/2 columns; the sums are the same numbers).
- The epoch's numbers come from the sweep itself: Σ_Ω (r − r̂)² after the item half-sweep is, item by item,
  Σ t² − 2 yᵀh + yᵀ G y for its new y = [q_i, c_i] and the G, h it was solved from (no per-rating pass), so
  `objective` (J) and `train_loss` (that sum / N: the unclipped squared error the sweep minimises, as the
  gradient loop's train_loss) cost a sum of squares of targets already formed plus O(items · K²). The val split is scored by one batched evaluate(); with
  noise > 0 (the model is the posterior average, not the last draw) or a loss other than mse, train_loss is
  one more batched pass over train. Each record has sweep_seconds and eval_seconds.
- optimizer.noise=σ > 0 (Bayesian ALS, a Gibbs sampler): after optimizer.burn_in exact sweeps, every sweep draws
  [p_u, b_u] from its Gaussian conditional N(x̂_u, σ²(G_u + λI)⁻¹) instead of taking the mean x̂_u (the ALS
  solution; same Cholesky factor). This samples exp(−J/2σ²): ratings ~ N(r̂, σ²), prior N(0, σ²/λ) on P, Q, b, c.
  The model then predicts the average over the draws (the posterior mean of r̂), which beats the single minimiser
  of J on held-out ratings (experiments/movielens). Each half-sweep adds the conditional-mean predictor of the
  block just drawn (Rao–Blackwell: lower variance than the draws themselves). The average of S bilinear
  predictors is an MF with S·K factors ([p¹…pˢ]/√S · [q¹…qˢ]/√S = mean of pˢ·qˢ): width 2·K per sampled sweep.
- model.implicit=true: implicit-feedback ALS (Hu, Koren & Volinsky 2008) by batched conjugate gradient, one sweep
  per epoch (mlrun/solvers/implicit_als.py; `ALS.fit_implicit`).
- Ranking: when dataset.metric is a top-k metric (or dataset.ranking.per_epoch), each record has the val split's
  ranking metrics (mlrun.metrics.ranking), and the monitored one drives the best sweep and early stopping.
"""

from __future__ import annotations

import math
import time
import warnings

import torch

from mlrun.errors import UserError, check, choose, number
from mlrun.models.mf import MF
from mlrun.metrics.ranking import split_ranking
from mlrun.metrics.records import Monitor, epoch_record
from mlrun.metrics.scoring import evaluate
from mlrun.solvers import implicit_als
from mlrun.solvers.base import Solver

UPDATES = ("seed", "joint")
DTYPES = {"float64": torch.float64, "float32": torch.float32}
MAX_BLOCK = 2 ** 22          # elements of one block of stacked (K+1)×(K+1) matrices (32 MiB in float64)
CHUNK = 2 ** 20              # ratings per chunk of a sum of squares (bounds its temporary)


class _Layout:
    """The train ratings as a CSR matrix with one row per user (or per item); built once per fit. Indices are
    int32 (half the memory of int64; the same sums). `units`: dtype → an all-ones vector of one value per
    rating, shared by the two layouts of a fit (one copy, not two)."""

    def __init__(self, rows: torch.Tensor, cols: torch.Tensor, n_rows: int, n_cols: int, units: dict | None = None):
        check(max(n_rows, n_cols, len(rows)) < 2 ** 31, "dataset", f"{len(rows)} ratings",
              "optimizer=als holds at most 2^31 − 1 ratings, users and items")
        self.order = torch.argsort(rows.to(torch.int32), stable=True).to(torch.int32)   # rating → CSR order
        self.col = cols[self.order].to(torch.int32)
        self.count = torch.bincount(rows, minlength=n_rows)           # ratings per row (|Ψ_u|)
        self.crow = torch.cat([self.count.new_zeros(1), self.count.cumsum(0)]).to(torch.int32)
        self.shape = (n_rows, n_cols)
        self._units = {} if units is None else units
        self._ones = {}                                               # dtype → all-ones CSR (the pattern Ω)

    def sort(self, values: torch.Tensor) -> torch.Tensor:
        """Per-rating values from rating order to CSR order."""
        return values[self.order]

    def ones(self, dtype: torch.dtype, start: int, stop: int) -> torch.Tensor:
        """Rows start..stop−1 of the 0/1 pattern as CSR (cached for the whole matrix)."""
        if dtype not in self._units:
            self._units[dtype] = torch.ones(len(self.col), dtype=dtype, device=self.col.device)
        if (start, stop) != (0, self.shape[0]):
            return self.matrix(self._units[dtype], start, stop)
        if dtype not in self._ones:
            self._ones[dtype] = self.matrix(self._units[dtype], start, stop)
        return self._ones[dtype]

    def row_sums(self, dense: torch.Tensor) -> torch.Tensor:
        """Σ_{j∈Ψ_u} dense_j for every row u: (n_rows, d) for dense (n_cols, d)."""
        return self.ones(dense.dtype, 0, self.shape[0]) @ dense

    def matrix(self, values: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Rows start..stop−1 as a sparse CSR matrix (stop − start, n_cols); `values` in CSR order."""
        a, b = int(self.crow[start]), int(self.crow[stop])
        with warnings.catch_warnings():                               # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self.crow[start:stop + 1] - a, self.col[a:b], values[a:b],
                                           (stop - start, self.shape[1]), check_invariants=False)


class Ratings:
    """The train ratings of one fit in both layouts: by user and by item, each with the ratings in its CSR order
    (sorted once, not every sweep, and kept in the ratings' own precision: float32 ratings stay 4 bytes), their
    sum (in `dtype`, the sweep's precision) and count (for μ)."""

    def __init__(self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor, n_users: int, n_items: int,
                 dtype: torch.dtype | None = None):
        units = {}
        self.by_user = _Layout(users, items, n_users, n_items, units)
        self.by_item = _Layout(items, users, n_items, n_users, units)
        self.user_sorted, self.item_sorted = self.by_user.sort(ratings), self.by_item.sort(ratings)
        self.dtype = dtype or ratings.dtype
        self.total, self.n = ratings.to(self.dtype).sum(), len(ratings)

    def targets(self, side: str, mu: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """r − μ − (the other side's bias) per rating, in the CSR order of `side` (user | item), in `dtype`."""
        layout, ratings = (self.by_user, self.user_sorted) if side == "user" else (self.by_item, self.item_sorted)
        return ratings.to(self.dtype, copy=True).sub_(mu).sub_(bias[layout.col])     # one new vector


def _triangle(k: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, cols) of the upper triangle of a (k+1)×(k+1) matrix, and for each of its (k+1)² entries the
    position of that entry (or its mirror) in the triangle."""
    upper = torch.triu_indices(k + 1, k + 1, device=device)
    where = torch.empty(k + 1, k + 1, dtype=torch.long, device=device)
    where[upper[0], upper[1]] = torch.arange(upper.shape[1], device=device)
    where[upper[1], upper[0]] = torch.arange(upper.shape[1], device=device)
    return upper, where.reshape(-1)


def solve_side(layout: _Layout, target: torch.Tensor, other: torch.Tensor, bias: torch.Tensor, reg: float,
               update: str, noise: float = 0.0) -> tuple[torch.Tensor, ...]:
    """New (factors, biases, mean factors, mean biases, sse) of every row (user) given the other side's factors
    `other` (n_cols, K). With noise = 0 the new values are the means (the ALS update). sse: Σ over this side's
    ratings of (target − [p_u, b_u]·o_j)² at the returned values, from the normal equations.

    target: per rating, r − μ − (other side's bias), in the layout's CSR order; bias: this side's current biases (update=seed).
    With o_j = [q_j, 1], G_u = Σ_{j∈Ψ_u} o_j o_jᵀ and h_u = Σ_{j∈Ψ_u} target_uj o_j (one sparse product each):
      seed:  p_u = (Σ q qᵀ + λI)⁻¹ Σ (r − μ − b_u − c_j) q_j,  then  b_u = Σ (r − μ − c_j − p_u·q_j) / (|Ψ_u| + λ)
      joint: [p_u, b_u] = (G_u + λI)⁻¹ h_u   (the exact minimiser of J over both at once)
      noise σ > 0 (always joint): [p_u, b_u] = x̂_u + σ L_u⁻ᵀ z, z ~ N(0, I), L_u L_uᵀ = G_u + λI — a draw from
             N(x̂_u, σ² (G_u + λI)⁻¹), the conditional of exp(−J/2σ²); the means x̂_u are returned beside it.
      sse = Σ_u (Σ_j t_uj² − 2 x_uᵀ h_u + x_uᵀ G_u x_u) for the returned x_u = [p_u, b_u].
    """
    n_rows, k = layout.shape[0], other.shape[1]
    o = torch.cat([other, other.new_ones(len(other), 1)], 1)                     # (n_cols, K+1)
    upper, full = _triangle(k, o.device)
    outer = o[:, upper[0]] * o[:, upper[1]]                                     # (n_cols, (K+1)(K+2)/2)
    eye = reg * torch.eye(k + 1, dtype=o.dtype, device=o.device)
    factors, biases = other.new_empty(n_rows, k), other.new_empty(n_rows)
    mean_factors, mean_biases = (factors, biases) if noise == 0 else (torch.empty_like(factors),
                                                                     torch.empty_like(biases))
    sse = sum(target[i:i + CHUNK].pow(2).sum() for i in range(0, len(target), CHUNK))   # Σ t², − 2 xᵀh + xᵀGx
    block = max(1, MAX_BLOCK // (k + 1) ** 2)
    for start in range(0, n_rows, block):                                       # one block for ml-100k
        stop = min(start + block, n_rows)
        gram = (layout.ones(o.dtype, start, stop) @ outer)[:, full].reshape(-1, k + 1, k + 1)   # (rows, K+1, K+1)
        rhs = layout.matrix(target, start, stop) @ o                           # (rows, K+1)
        if update == "joint" or noise > 0:
            chol = torch.linalg.cholesky(gram + eye)
            x = torch.cholesky_solve(rhs[..., None], chol)[..., 0]                 # (rows, K+1) means
            mean_factors[start:stop], mean_biases[start:stop] = x[:, :k], x[:, k]
            if noise > 0:
                z = torch.randn(stop - start, k + 1, 1, dtype=x.dtype, device=x.device)
                x = x + noise * torch.linalg.solve_triangular(chol.mT, z, upper=True)[..., 0]
            factors[start:stop], biases[start:stop] = x[:, :k], x[:, k]
        else:
            qq, q_sum, n = gram[:, :k, :k], gram[:, :k, k], gram[:, k, k]      # Σ q qᵀ, Σ q_j, |Ψ_u|
            b = bias[start:stop]
            p = torch.cholesky_solve((rhs[:, :k] - b[:, None] * q_sum)[..., None],
                                     torch.linalg.cholesky(qq + eye[:k, :k]))[..., 0]
            factors[start:stop] = p
            biases[start:stop] = (rhs[:, k] - (p * q_sum).sum(1)) / (n + reg)
            x = torch.cat([p, biases[start:stop, None]], 1)
        sse = sse - 2 * (x * rhs).sum() + (x[:, None, :] @ gram @ x[:, :, None]).sum()
    return factors, biases, mean_factors, mean_biases, float(sse)


def als_sweep(params, data: Ratings, reg: float, update: str, noise: float = 0.0,
              average: PosteriorMean | None = None):
    """One sweep: μ, then all users, then all items; each an exact minimisation of J over that block (noise = 0)
    or a draw from its conditional (noise = σ > 0). `average` collects the conditional-mean predictor after
    each half-sweep: E[r̂ | everything but the block just drawn]. Returns (params, Σ_Ω (r − r̂)² at them)."""
    mu, b, c, p, q = params
    by_user, by_item = data.by_user, data.by_item
    # μ = mean of r − b_u − c_i − p_u·q_i, with Σ p_u·q_i = Σ_u p_u·(Σ_{i∈Ψ_u} q_i): no per-rating gathers
    n_u, n_i = by_user.count.to(b.dtype), by_item.count.to(c.dtype)
    mu = (data.total - b @ n_u - c @ n_i - (p * by_user.row_sums(q)).sum()) / data.n
    p, b, p_mean, b_mean, _ = solve_side(by_user, data.targets("user", mu, c), q, b, reg, update, noise)
    if average is not None:
        average.add(mu, b_mean, c, p_mean, q)
    q, c, q_mean, c_mean, sse = solve_side(by_item, data.targets("item", mu, b), p, c, reg, update, noise)
    if average is not None:
        average.add(mu, b, c_mean, p, q_mean)
    return (mu, b, c, p, q), sse


def penalty(params, reg: float) -> float:
    """λ (‖P‖² + ‖Q‖² + ‖b‖² + ‖c‖²): J = Σ_Ω (r − r̂)² + this."""
    _, b, c, p, q = params
    return float(reg * sum(t.pow(2).sum() for t in (p, q, b, c)))


class PosteriorMean:
    """Running average of MF predictors μ + b_u + c_i + p_u·q_i. Biases average directly; the factor terms by
    stacking: [p¹ … pˢ]/√S · [q¹ … qˢ]/√S = (1/S) Σ pˢ·qˢ, so `params()` is itself an MF with S·K factors."""

    def __init__(self):
        self.sums, self.user_blocks, self.item_blocks = None, [], []

    def add(self, mu, b, c, p, q) -> None:
        self.sums = [mu, b, c] if self.sums is None else [s + v for s, v in zip(self.sums, (mu, b, c))]
        self.user_blocks.append(p)
        self.item_blocks.append(q)

    def params(self) -> tuple[torch.Tensor, ...]:
        """(μ, b, c, P, Q) of the average; P (n_users, S·K), Q (n_items, S·K)."""
        s = len(self.user_blocks)
        scale = 1 / math.sqrt(s)
        return (*(t / s for t in self.sums), torch.cat(self.user_blocks, 1) * scale,
                torch.cat(self.item_blocks, 1) * scale)


class ALS(Solver):
    """`optimizer=als`: one sweep per epoch (trainer.epochs sweeps, trainer.patience applies). A torch Optimizer
    (the Solver protocol) only so that checkpoints treat it like any other; it has no learning rate."""
    name = "als"

    def __init__(self, params, update: str = "seed", dtype: str = "float64", noise: float = 0.0, burn_in: int = 5,
                 cg_steps: int = 3):
        super().__init__(params, {"lr": math.nan})       # NaN: schedulers leave it alone; no lr in the records
        self.update = choose({u: u for u in UPDATES}, "optimizer.update", update)
        self.dtype = choose(DTYPES, "optimizer.dtype", dtype)
        number("optimizer.noise", noise, 0)
        number("optimizer.burn_in", burn_in, 0, integer=True)
        number("optimizer.cg_steps", cg_steps, 1, integer=True)
        self.noise, self.burn_in, self.cg_steps = float(noise), burn_in, cg_steps

    def fit_direct(self, model: MF, data, trainer, loss_fn):
        """Yield (record, improved) per sweep (mlrun.metrics.records): train_loss, val_loss, val_<metric>, epoch_seconds,
        samples_per_second (ratings per second of sweep), then `objective` (J after the sweep; with noise > 0, J
        at the latest draw), `sweep_seconds`, `eval_seconds` (val, and train when it needs a pass) and `samples`
        (sampled sweeps averaged into the model so far)."""
        check(isinstance(model, MF), "optimizer", "als", f"solves model=mf only, not {type(model).__name__}; "
              f"use a gradient optimizer such as optimizer=adam")
        check(model.reg > 0, "model.reg", model.reg, "must be > 0 with optimizer=als (λI keeps every system solvable)")
        if model.implicit:
            yield from self.fit_implicit(model, data, trainer, loss_fn)
            return
        users, items = data.train.x[:, 0], data.train.x[:, 1]
        train = Ratings(users, items, data.train.y, model.n_users, model.n_items, self.dtype)
        params = model.params(self.dtype)
        metric, task = data.spec.metric, data.spec.task
        monitor = Monitor(metric, trainer.patience)
        epochs = 1 if trainer.fast_dev_run else trainer.epochs
        burn_in = 0 if trainer.fast_dev_run else self.burn_in           # a dev run samples its one sweep
        check(self.noise == 0 or burn_in < epochs, "optimizer.burn_in", self.burn_in,
              f"must be < trainer.epochs={epochs} when optimizer.noise > 0 (no sweep would be sampled)")
        squared = loss_fn is torch.nn.functional.mse_loss
        average = PosteriorMean()
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            sampling = self.noise > 0 and epoch > burn_in
            params, sse = als_sweep(params, train, model.reg, self.update, self.noise if sampling else 0.0,
                                    average if sampling else None)
            model.set_params(*(average.params() if sampling else params))
            if users.is_cuda:
                torch.cuda.synchronize()
            swept = time.perf_counter()
            scores = val_scores(model, data, loss_fn, trainer, first=epoch == 1)
            if squared and self.noise == 0:          # the model is the last sweep: its residuals are at hand
                train_loss = sse / max(train.n, 1)
            else:
                train_loss = evaluate(model, data.train, loss_fn, task, trainer.eval_batch_size)["loss"]
            improved = monitor.update(scores[metric], has_val=len(data.val) > 0)
            done = time.perf_counter()
            yield epoch_record(epoch, train_loss, scores, metric, done - start,
                               train.n / max(swept - start, 1e-9), objective=sse + penalty(params, model.reg),
                               sweep_seconds=swept - start, eval_seconds=done - swept,
                               samples=epoch - burn_in if sampling else 0, **ranked(scores, metric)), improved
            if monitor.done:
                break

    def fit_implicit(self, model: MF, data, trainer, loss_fn):
        """model.implicit=true: one implicit-ALS sweep per epoch (mlrun.solvers.implicit_als); records as
        fit_direct's, with `objective` = J of Hu et al. and train_loss = its data term / (users × items)."""
        check(self.noise == 0, "optimizer.noise", self.noise, "must be 0 with model.implicit=true")
        users, items, values = implicit_als.interactions(data.train.x[:, 0], data.train.x[:, 1], data.train.y,
                                                         model.threshold)
        layouts = _Layout(users, items, model.n_users, model.n_items), _Layout(items, users, model.n_items,
                                                                               model.n_users)
        train = implicit_als.Interactions(layouts, values, model.alpha)
        del users, items, values                  # the layouts hold what the sweeps need (10M: ~200 MB less)
        x, y = model.user_factors.detach().clone(), model.item_factors.detach().clone()
        monitor = Monitor(data.spec.metric, trainer.patience)
        cells = model.n_users * model.n_items
        for epoch in range(1, (1 if trainer.fast_dev_run else trainer.epochs) + 1):
            start = time.perf_counter()
            x, y = implicit_als.sweep(train, x, y, model.reg, self.cg_steps)
            if x.is_cuda:
                torch.cuda.synchronize()
            model.set_params(*(t.new_zeros(t.shape) for t in (model.mu, model.user_bias, model.item_bias)), x, y)
            swept = time.perf_counter()
            scores = val_scores(model, data, loss_fn, trainer, first=epoch == 1)
            loss, penalty_term = implicit_als.objective(train, x, y, model.reg)
            improved = monitor.update(scores[data.spec.metric], has_val=len(data.val) > 0)
            done = time.perf_counter()
            yield epoch_record(epoch, loss / cells, scores, data.spec.metric, done - start,
                               train.n / max(swept - start, 1e-9), objective=loss + penalty_term,
                               sweep_seconds=swept - start, eval_seconds=done - swept,
                               **ranked(scores, data.spec.metric)), improved
            if monitor.done:
                break


def val_scores(model: MF, data, loss_fn, trainer, first: bool = True) -> dict:
    """The val split's loss and metrics (mlrun.metrics.scoring.evaluate), with its top-k ranking metrics
    (mlrun.metrics.ranking) when the monitored metric is one or dataset.ranking.per_epoch is set."""
    scores = evaluate(model, data.val, loss_fn, data.spec.task, trainer.eval_batch_size)
    ranked = "@" in data.spec.metric
    settings = getattr(data, "ranking", None)            # mlrun.datasets.ratings.data.RatingsData's settings
    if not settings:
        if ranked:
            raise UserError(f"dataset.metric={data.spec.metric}: this run's data has no ranking settings "
                            f"(a ratings dataset kept on the host); use dataset.metric=rmse")
        return scores
    if ranked or settings["per_epoch"]:
        if len(data.val) == 0:
            return scores | {data.spec.metric: math.nan}
        scores |= {key: value for key, value in split_ranking(model.block_scores, data, "val", say=first).items()
                   if "@" in key}
    return scores


def ranked(scores: dict, metric: str) -> dict:
    """The val ranking metrics besides the monitored one, as val_<name>@<k> record columns."""
    return {f"val_{key}": value for key, value in scores.items() if "@" in key and key != metric}
