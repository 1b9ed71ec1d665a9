"""`mlrun recommend checkpoint=PATH user=ID [k=10] [format=table|json] [key=value ...]`

Top-k items for one user from a model=mf checkpoint: the dataset is rebuilt from the checkpoint's config (same
seed → same split and id maps), items the user rated anywhere in the file (train, val or test) are left out,
the rest are ranked by the model's unclipped prediction. `user` is the raw id from the file (e.g. 196 in
u.data). Titles come from u.item / movies.dat when present. A user without train ratings (cold start) gets the
items with the largest μ + c_i. Extra key=value pairs override the stored config, e.g. `dataset.root=/elsewhere`.
"""

from __future__ import annotations

import json
import sys

FORMATS = ("table", "json")


def recommend(path: str, user: str, k: int = 10, overrides: list[str] = ()) -> list[dict]:
    """[{rank, item, title, score}] for the `k` best unrated items of raw user id `user`."""
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from mlrun import checkpoints
    from mlrun.errors import UserError
    from mlrun.models.mf import MF
    from mlrun.train import build

    payload = checkpoints.load(path)
    cfg = OmegaConf.create(payload["config"])
    for item in overrides:
        key, _, value = item.partition("=")
        if OmegaConf.select(cfg, key, default=KeyError) is KeyError:
            raise UserError(f"{key}={value!r}: not a key of the checkpoint's config")
        OmegaConf.update(cfg, key, OmegaConf.select(OmegaConf.from_dotlist([item]), key), merge=False)
    if payload["spec"].get("task") != "ratings":
        raise UserError(f"checkpoint={path!r}: a {payload['spec'].get('task')} model; mlrun recommend needs a "
                        f"model=mf checkpoint trained on a ratings dataset")
    torch.manual_seed(cfg.seed)
    data = build(cfg.dataset, "dataset", seed=cfg.seed)
    if data.spec.to_dict() != payload["spec"]:
        raise UserError(f"checkpoint={path!r}: the rebuilt dataset differs from the one it was trained on "
                        f"(spec {data.spec.to_dict()} vs {payload['spec']})")
    model = build(cfg.model, "model", data.spec)
    if not isinstance(model, MF):
        raise UserError(f"checkpoint={path!r}: model {cfg.model._target_} cannot rank items; needs model=mf")
    model.load_state_dict(payload["model"])
    raw_users, raw_items = data.rated
    mine = raw_users == str(user)
    if not mine.any():
        sample = ", ".join(data.user_ids[:5])
        raise UserError(f"user={user!r}: not in {data.spec.name} (ids look like {sample}, ...)")
    index = {item: i for i, item in enumerate(data.item_ids)}
    seen = [index[i] for i in set(raw_items[mine]) if i in index]
    u = data.user_ids.index(str(user)) if str(user) in data.user_ids else -1   # −1: cold start
    scores = model.scores(u).clone()
    scores[seen] = -np.inf
    k = min(k, int(torch.isfinite(scores).sum()))
    top = torch.topk(scores, k)
    low, high = data.spec.rating_range
    return [{"rank": r + 1, "item": data.item_ids[i], "title": data.titles.get(data.item_ids[i], ""),
             "score": round(min(max(float(s), low), high), 3)}
            for r, (s, i) in enumerate(zip(top.values.tolist(), top.indices.tolist()))]


def main(argv: list[str]) -> None:
    from mlrun.cli import fail, split_args
    from mlrun.errors import UserError

    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return
    args, overrides = split_args("mlrun recommend", argv, ("checkpoint", "user", "k", "format"))
    for key in ("checkpoint", "user"):
        if key not in args:
            fail("mlrun recommend", f"{key}= is required: mlrun recommend checkpoint=PATH user=ID [k=10]")
    k = args.get("k", "10")
    if not k.isdigit() or int(k) < 1:
        fail("mlrun recommend", f"k={k!r}: must be an integer ≥ 1")
    fmt = args.get("format", "table")
    if fmt not in FORMATS:
        fail("mlrun recommend", f"format={fmt!r}: valid choices are {', '.join(FORMATS)}")
    try:
        rows = recommend(args["checkpoint"], args["user"], int(k), overrides)
    except UserError as e:
        fail("mlrun recommend", str(e))
    if fmt == "json":
        print(json.dumps(rows))
    else:
        print(f"{'rank':>4}  {'item':>8}  {'score':>5}  title")
        for r in rows:
            print(f"{r['rank']:>4}  {r['item']:>8}  {r['score']:>5.2f}  {r['title']}")
    sys.stdout.flush()
