"""Top-k items for one user from a model=mf checkpoint: the dataset is rebuilt from the checkpoint's config (same
seed → same split and id maps), items the user rated anywhere in the file (train, val or test) are left out,
the rest are ranked by the model's unclipped prediction (model.implicit=true: the preference score x_u·y_i, shown
as it is). `user` is the raw id from the file (e.g. 196 in
u.data). Titles come from u.item / movies.dat when present. A user without train ratings (cold start) gets the
items with the largest μ + c_i. Extra key=value overrides change the stored config, e.g. `dataset.root=/elsewhere` (`mlrun recommend`).
"""

from __future__ import annotations

import numpy as np
import torch

from mlrun.errors import UserError
from mlrun.infer.stored import rebuild
from mlrun.infer.validate import open_checkpoint
from mlrun.models.mf import MF


def recommend(path: str, user: str, k: int = 10, overrides: list[str] = ()) -> list[dict]:
    """[{rank, item, title, score}] for the `k` best unrated items of raw user id `user`."""
    payload = open_checkpoint(path, list(overrides)).payload    # every stored value checked before building
    if payload["spec"].get("task") != "ratings":
        raise UserError(f"checkpoint={path!r}: a {payload['spec'].get('task')} model; mlrun recommend needs a "
                        f"model=mf checkpoint trained on a ratings dataset")
    cfg, p = rebuild(payload, list(overrides), key=f"checkpoint={path!r}")
    model, data = p.model, p.source
    if not isinstance(model, MF):
        raise UserError(f"checkpoint={path!r}: model {cfg.model._target_} cannot rank items; needs model=mf")
    raw_users, raw_items = data.rated
    mine = raw_users == str(user)
    if not mine.any():
        sample = ", ".join(data.user_ids[:5])
        raise UserError(f"user={user!r}: not in {data.spec.name} (ids look like {sample}, ...)")
    index = {item: i for i, item in enumerate(data.item_ids)}
    seen = [index[i] for i in set(raw_items[mine]) if i in index]
    u = data.user_ids.index(str(user)) if str(user) in data.user_ids else -1   # −1: cold start
    scores = model.scores(u).cpu().clone()
    scores[seen] = -np.inf
    k = min(k, int(torch.isfinite(scores).sum()))
    top = torch.topk(scores, k)
    low, high = (-np.inf, np.inf) if model.implicit else data.spec.rating_range   # implicit: preference scores
    return [{"rank": r + 1, "item": data.item_ids[i], "title": data.titles.get(data.item_ids[i], ""),
             "score": round(min(max(float(s), low), high), 3)}
            for r, (s, i) in enumerate(zip(top.values.tolist(), top.indices.tolist()))]
