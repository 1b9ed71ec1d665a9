"""Implicit-feedback ALS for model=mf with model.implicit=true (optimizer=als): Hu, Koren & Volinsky (2008),
"Collaborative filtering for implicit feedback datasets", solved by batched conjugate gradient (Takács, Pilászy &
Tikk 2011, "Applications of the conjugate gradient method for implicit feedback collaborative filtering").

    mlrun train model=mf optimizer=als dataset=movielens_100k model.implicit=true model.threshold=4 \\
        model.k=64 model.reg=50 model.alpha=2 dataset.metric=ndcg@10 trainer.epochs=15

Over ALL users × items, with p_ui = [r_ui > 0] and confidence c_ui = 1 + α r_ui (c = 1 on unobserved cells):

    J = Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ (‖X‖² + ‖Y‖²)

With Y fixed, user u's block minimiser solves A_u x_u = b_u with

    A_u = YᵀY + λI + Σ_{i∈Ω_u} (c_ui − 1) y_i y_iᵀ        (YᵀC_uY = YᵀY + Yᵀ(C_u − I)Y: only observed cells)
    b_u = Σ_{i∈Ω_u} c_ui y_i

A_u is never formed: `optimizer.cg_steps` CG steps (3, as the `implicit` library), started from the previous
sweep's x_u, need only products A_u v = v (YᵀY + λI) + Σ_i (c_ui − 1)(y_i·v) y_i, computed for EVERY user at once:
one K×K product, one sampled dense–dense product (y_i·v_u on the observed cells only: torch.sparse.sampled_addmm)
and one sparse × dense product. No Python loop over users or items. Memory: the interactions (CSR, both
layouts) plus a few (rows, K) matrices. The items' half-sweep is the same with X and Y swapped.

Inputs: counts (plays, clicks) as they are; star ratings become implicit with model.threshold (values below it
dropped). Negative values are refused (confidence < 1 has no meaning). μ and the biases stay 0; the model scores
x_u·y_i. The `implicit` library writes c = α r (no 1 +): give it 1 + α r and alpha = 1 to fit the same J
(experiments/recsys).
"""

from __future__ import annotations

import warnings

import torch

from mlrun.errors import UserError

CHUNK = 1 << 20                # interactions per chunk of the objective's float64 sums


class Interactions:
    """The train interactions of one fit: by user and by item (mlrun.solvers.als._Layout), with c − 1 = α r per
    interaction in each layout's CSR order (float32, the factors' dtype)."""

    def __init__(self, layouts, values: torch.Tensor, alpha: float):
        self.by_user, self.by_item = layouts
        weight = (alpha * values).to(torch.float32)
        self.user_weight, self.item_weight = self.by_user.sort(weight), self.by_item.sort(weight)
        self.n = len(values)


def interactions(users: torch.Tensor, items: torch.Tensor, values: torch.Tensor,
                 threshold: float | None) -> tuple[torch.Tensor, ...]:
    """(users, items, values) of the train rows that are interactions: value > 0, or ≥ threshold when set
    (explicit ratings made implicit). A negative value without a threshold is one UserError."""
    if threshold is None:
        if len(values) and float(values.min()) < 0:
            raise UserError(f"model.implicit=true: train value {float(values.min()):g} is negative; implicit "
                            f"feedback needs counts ≥ 0 (plays, clicks), or set model.threshold to turn ratings "
                            f"into interactions")
        keep = values > 0
    else:
        keep = values >= threshold
    if not bool(keep.any()):
        raise UserError(f"model.threshold={threshold}: no train value is an interaction (all below it)")
    return users[keep], items[keep], values[keep]


def _csr(layout, values: torch.Tensor) -> torch.Tensor:
    return layout.matrix(values, 0, layout.shape[0])


def solve_side(layout, weight: torch.Tensor, x: torch.Tensor, other: torch.Tensor, reg: float,
               steps: int) -> torch.Tensor:
    """`steps` conjugate-gradient steps on every row's A_u x_u = b_u at once, from `x` (n_rows, K); `weight`:
    c − 1 per interaction in the layout's CSR order; `other`: the fixed side's factors (n_cols, K)."""
    k = other.shape[1]
    gram = other.T @ other + reg * torch.eye(k, dtype=other.dtype)             # YᵀY + λI (K, K)
    pattern = layout.ones(weight.dtype, 0, layout.shape[0])                    # the 0/1 pattern (cached)
    b = _csr(layout, weight + 1) @ other                                        # Σ c_ui y_i (rows, K)

    def apply(v: torch.Tensor) -> torch.Tensor:                                 # A_u v_u for every row
        with warnings.catch_warnings():                                        # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            dots = torch.sparse.sampled_addmm(pattern, v, other.T, beta=0.0)    # y_i·v_u on the observed cells
        return v @ gram + _csr(layout, dots.values() * weight) @ other

    x = x.clone()
    r = b - apply(x)
    p, rs = r.clone(), (r * r).sum(1)
    tiny = torch.finfo(x.dtype).tiny
    for _ in range(steps):
        ap = apply(p)
        step = torch.where(rs > 0, rs / (p * ap).sum(1).clamp_min(tiny), 0.0)[:, None]
        x += step * p
        r -= step * ap
        new = (r * r).sum(1)
        p = r + torch.where(rs > 0, new / rs.clamp_min(tiny), 0.0)[:, None] * p
        rs = new
    return x


def objective(data: Interactions, x: torch.Tensor, y: torch.Tensor, reg: float) -> tuple[float, float]:
    """(Σ_{u,i} c (p − x·y)², λ(‖X‖² + ‖Y‖²)): all cells as Σ (x·y)² = ⟨XᵀX, YᵀY⟩, then each observed cell's
    c(1 − s)² − s² added (s = x_u·y_i from one sampled product), in float64 chunks of CHUNK cells (bounded
    temporaries: 10M interactions would otherwise take ~0.4 GB of them)."""
    layout = data.by_user
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = torch.sparse.sampled_addmm(layout.ones(x.dtype, 0, layout.shape[0]), x, y.T, beta=0.0).values()
    loss = float(((x.T @ x).double() * (y.T @ y).double()).sum())
    for start in range(0, len(s), CHUNK):
        part, c = s[start:start + CHUNK].double(), data.user_weight[start:start + CHUNK].double() + 1
        loss += float((c * (1 - part) ** 2 - part ** 2).sum())
    return loss, float(reg * (x.double().pow(2).sum() + y.double().pow(2).sum()))


def sweep(data: Interactions, x: torch.Tensor, y: torch.Tensor, reg: float, steps: int):
    """One sweep: all users (Y fixed), then all items (X fixed). Returns the new (X, Y)."""
    x = solve_side(data.by_user, data.user_weight, x, y, reg, steps)
    y = solve_side(data.by_item, data.item_weight, y, x, reg, steps)
    return x, y
