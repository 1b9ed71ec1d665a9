"""Biased matrix factorization for ratings, trained by ALS (optimizer=als) or by any torch optimizer.

    mlrun train model=mf dataset=synthetic_ratings                          # gradient path (adam), offline
    mlrun train model=mf optimizer=als dataset=movielens_100k model.k=10 model.reg=10
    mlrun train model=mf optimizer=adam dataset=movielens_100k trainer.batch_size=1024 optimizer.lr=0.01

Prediction r̂(u, i) = μ + b_u + c_i + p_u·q_i (K factors; model.k=0: the biases-only baseline μ + b_u + c_i,
whose ALS sweep is the closed-form alternating bias update b_u = Σ (r − μ − c_i) / (|Ψ_u| + λ), the formula of
Surprise's BaselineOnly). Both paths minimise the same objective

    J = Σ_Ω (r − r̂)² + λ (‖P‖² + ‖Q‖² + ‖b‖² + ‖c‖²)          λ = model.reg; μ is not penalised

- optimizer=als (mlrun/solvers/als.py): exact block minimisations of J, one sweep per epoch; with
  optimizer.noise > 0 Gibbs draws whose predictors are averaged. The average of S bilinear predictors is an MF
  with S·K factors, so the trained model, its checkpoint and `mlrun recommend` stay plain MF (`set_params` and
  loading a checkpoint take the factor width that comes).
- gradient path (the trainer's loop): each step minimises mean_batch (r − r̂)² + λ/N (‖P‖² + ‖Q‖² + ‖b‖² + ‖c‖²),
  N = train ratings: its expectation over the shuffled batches is J/N, so both paths share the minimiser.
  `penalty()` is the second term; the loop adds it to the objective (not to the reported loss).

Implicit feedback (model.implicit=true, optimizer=als: mlrun/solvers/implicit_als.py): the train values are counts
(plays, clicks; or star ratings, those below model.threshold dropped), the prediction is the preference score
p_u·q_i (μ and the biases stay 0, nothing is clipped) and the objective is Hu, Koren & Volinsky's (2008)

    J = Σ_{u,i} c_ui (p_ui − p_u·q_i)² + λ (‖P‖² + ‖Q‖²)      p_ui = [r_ui > 0], c_ui = 1 + α r_ui (α = model.alpha)

over ALL user × item cells (an unobserved cell has p = 0, c = 1). Such a run monitors a ranking metric
(dataset.metric=ndcg@10): its scores are not ratings.

Every MF fit is also ranked (`split_metrics`, mlrun.metrics.ranking): top-k lists of the items outside each user's
train set against the held-out items rated ≥ dataset.ranking.threshold, with the popularity and random baselines
on the test split.

Cold start: the dataset maps users and items without a train rating to index −1; their factor terms are left
out, so an unseen user gets μ + c_i, an unseen item μ + b_u, both unseen μ.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlrun.datasets.spec import DataSpec
from mlrun.errors import check, number
from mlrun.metrics.ranking import split_ranking
from mlrun.models.base import Model


class MF(Model):
    tasks = ("ratings",)                   # dataset tasks it learns (checked once by mlrun.fit.build.model)

    def __init__(self, spec: DataSpec, k: int = 5, reg: float = 10.0, init_scale: float = 0.1, clip: bool = True,
                 implicit: bool = False, alpha: float = 1.0, threshold: float | None = None):
        """Factors and biases for the `spec.n_users` × `spec.n_items` train id maps (task=ratings)."""
        super().__init__()
        number("model.k", k, 0, integer=True)         # 0 = biases only: μ + b_u + c_i
        number("model.reg", reg, 0)
        number("model.init_scale", init_scale, 0)
        check(isinstance(clip, bool), "model.clip", clip, "must be true or false")
        check(isinstance(implicit, bool), "model.implicit", implicit, "must be true or false")
        number("model.alpha", alpha, 0)
        check(implicit or alpha == 1.0, "model.alpha", alpha, "applies to model.implicit=true only (the confidence "
              "c = 1 + α·r of implicit feedback; explicit ratings have none)")
        if threshold is not None:
            number("model.threshold", threshold)
            check(implicit, "model.threshold", threshold, "applies to model.implicit=true only (explicit ratings "
                  "are fitted as they are; dataset.ranking.threshold sets what the ranking counts as relevant)")
        check(not implicit or "@" in spec.metric, "dataset.metric", spec.metric, "model.implicit=true scores "
              "preferences, not ratings: monitor a ranking metric, e.g. dataset.metric=ndcg@10")
        check(not implicit or k > 0, "model.k", k, "must be ≥ 1 with model.implicit=true")
        self.implicit, self.alpha, self.threshold = implicit, float(alpha), threshold
        low, high = spec.rating_range if len(spec.rating_range) == 2 else (-math.inf, math.inf)
        clip = clip and not implicit                   # preference scores are not on the rating scale
        self.reg, self.clip, self.n_train = float(reg), clip, max(spec.n_train, 1)
        self.n_users, self.n_items, self.k = spec.n_users, spec.n_items, k
        self.low, self.high = float(low), float(high)                          # the rating scale, for clipping
        middle = 0.5 * (low + high) if math.isfinite(low + high) and not implicit else 0.0
        self.mu = nn.Parameter(torch.tensor(middle))
        self.user_bias = nn.Parameter(torch.zeros(spec.n_users))                  # b
        self.item_bias = nn.Parameter(torch.zeros(spec.n_items))                  # c
        self.user_factors = nn.Parameter(init_scale * torch.randn(spec.n_users, k))   # P (n_users, K)
        self.item_factors = nn.Parameter(init_scale * torch.randn(spec.n_items, k))   # Q (n_items, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 2) int64 (user, item) indices, −1 = unseen in train → (N,) predicted ratings (clipped to the
        rating range in eval mode when `clip`; training sees the raw values)."""
        user, item = x[:, 0], x[:, 1]
        seen_u, seen_i = user >= 0, item >= 0
        u, i = user.clamp_min(0), item.clamp_min(0)
        zero = self.mu.new_zeros(())
        dot = (self.user_factors[u] * self.item_factors[i]).sum(1)
        out = (self.mu + torch.where(seen_u, self.user_bias[u], zero) + torch.where(seen_i, self.item_bias[i], zero)
               + torch.where(seen_u & seen_i, dot, zero))
        if self.clip and not self.training:
            out = out.clamp(self.low, self.high)
        return out

    def penalty(self) -> torch.Tensor:
        """λ/N ‖θ‖² over P, Q, b, c: added to each step's mean squared error so the steps minimise J/N."""
        return self.reg / self.n_train * sum(p.pow(2).sum() for p in self.penalised())

    def penalised(self) -> tuple[torch.Tensor, ...]:
        return self.user_factors, self.item_factors, self.user_bias, self.item_bias

    @torch.no_grad()
    def scores(self, user: int) -> torch.Tensor:
        """Unclipped predictions of one train user (index ≥ 0, or −1 for a cold user) for every item: (n_items,)."""
        if user < 0:
            return self.mu + self.item_bias
        return self.mu + self.user_bias[user] + self.item_bias + self.item_factors @ self.user_factors[user]

    @torch.no_grad()
    def block_scores(self, users: torch.Tensor) -> torch.Tensor:
        """Unclipped predictions of a block of train users (B,) for every item: (B, n_items)."""
        users = users.to(self.user_factors.device)
        return (self.mu + self.user_bias[users, None] + self.item_bias[None, :]
                + self.user_factors[users] @ self.item_factors.T)

    def split_metrics(self, data, split: str) -> dict:
        """Top-k ranking metrics of `split` (mlrun.metrics.ranking), named <split>_<metric>@<k>; on the test split
        also the popularity and random baselines (<split>_popularity_..., <split>_random_...). {} for data
        without ranking settings (not a ratings dataset's RatingsData)."""
        if not getattr(data, "ranking", None):
            return {}
        return {f"{split}_{key}": value for key, value in
                split_ranking(self.block_scores, data, split, baselines=split == "test").items()}

    @torch.no_grad()
    def objective(self, users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor) -> float:
        """J on the given (train) ratings, all indices ≥ 0, in float64."""
        return objective(self.params(torch.float64), users, items, ratings.double(), self.reg)

    def params(self, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """(μ, b, c, P, Q) as detached copies in `dtype`."""
        return tuple(p.detach().to(dtype).clone() for p in
                     (self.mu, self.user_bias, self.item_bias, self.user_factors, self.item_factors))

    @torch.no_grad()
    def set_params(self, mu, user_bias, item_bias, user_factors, item_factors) -> None:
        """Copy in new values; the factor width may change (a posterior average has S·K factors)."""
        for p, v in zip((self.mu, self.user_bias, self.item_bias, self.user_factors, self.item_factors),
                        (mu, user_bias, item_bias, user_factors, item_factors)):
            if p.shape == v.shape:
                p.copy_(v)
            else:
                p.data = v.detach().to(p.dtype).clone()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Take the factor width of the checkpoint (K, or S·K for a posterior average) before loading."""
        for name in ("user_factors", "item_factors"):
            saved, param = state_dict.get(prefix + name), getattr(self, name)
            if saved is not None and saved.dim() == 2 and saved.shape[0] == param.shape[0]:
                param.data = param.new_empty(saved.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def objective(params, users, items, ratings, reg: float) -> float:
    """J = Σ (r − μ − b_u − c_i − p_u·q_i)² + λ (‖P‖² + ‖Q‖² + ‖b‖² + ‖c‖²) for (μ, b, c, P, Q) = params."""
    mu, b, c, p, q = params
    err = ratings - mu - b[users] - c[items] - (p[users] * q[items]).sum(1)
    return float(err.pow(2).sum() + reg * sum(t.pow(2).sum() for t in (p, q, b, c)))
