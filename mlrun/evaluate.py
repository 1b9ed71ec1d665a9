"""`mlrun eval checkpoint=PATH [split=test] [format=table|json] [key=value ...]`

Rebuilds the dataset and model from the config stored in the checkpoint (same seed → same split and scaling),
loads the weights and scores one split. Extra key=value pairs override the stored config, e.g.
`dataset.path=/elsewhere/housing.csv` or `device=cpu`.
"""

from __future__ import annotations

import json
import sys

SPLITS = ("train", "val", "test")
FORMATS = ("table", "json")


def evaluate_checkpoint(path: str, split: str = "test", overrides: list[str] = ()) -> dict:
    import torch
    from omegaconf import OmegaConf

    from mlrun import checkpoints
    from mlrun.errors import UserError, choose
    from mlrun.loop import evaluate
    from mlrun.losses import make_loss
    from mlrun.models.pca import maybe_project
    from mlrun.train import build, network

    choose({s: s for s in SPLITS}, "split", split)
    payload = checkpoints.load(path)
    cfg = OmegaConf.create(payload["config"])
    OmegaConf.set_struct(cfg, True)
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "device" and value in ("auto", "cpu", "cuda"):
            cfg.device.type = value
            continue
        try:
            OmegaConf.update(cfg, key, OmegaConf.from_dotlist([item]).get(key) if "." not in key
                             else OmegaConf.select(OmegaConf.from_dotlist([item]), key), merge=False)
        except Exception:  # noqa: BLE001 - struct mode refuses unknown keys
            raise UserError(f"{key}={value!r}: not a key of the checkpoint's config") from None
    device = build(cfg.device, "device")
    torch.manual_seed(cfg.seed)
    data = build(cfg.dataset, "dataset", seed=cfg.seed)
    data = maybe_project(data, cfg.dataset.get("pca_components"))     # same seed → same projection as in training
    model = build(cfg.model, "model", data.spec)     # first: a model may adapt the spec (PCA → unsupervised)
    if data.spec.to_dict() != payload["spec"]:
        raise UserError(f"checkpoint={path!r}: the rebuilt dataset's spec {data.spec.to_dict()} differs from the "
                        f"checkpoint's {payload['spec']}")
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as e:
        raise UserError(f"checkpoint={path!r}: weights do not fit {cfg.model._target_} "
                        f"({str(e).splitlines()[0]})") from None
    model.to(device)
    loss_fn = make_loss(cfg.get("loss"), data.spec)
    part = getattr(data, split).to(device)
    scores = evaluate(network(model, data.to(device)), part, loss_fn, data.spec.task)
    return {f"{split}_{k}": v for k, v in scores.items()} | {"epoch": payload.get("epoch"), "n": len(part)}


def main(argv: list[str]) -> None:
    from mlrun.cli import fail, split_args
    from mlrun.errors import UserError

    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return
    args, overrides = split_args("mlrun eval", argv, ("checkpoint", "split", "format"))
    fmt = args.get("format", "table")
    if fmt not in FORMATS:
        fail("mlrun eval", f"format={fmt!r}: valid choices are {', '.join(FORMATS)}")
    try:
        scores = evaluate_checkpoint(args["checkpoint"], args.get("split", "test"), overrides)
    except UserError as e:
        fail("mlrun eval", str(e))
    if fmt == "json":
        print(json.dumps(scores))
    else:
        from mlrun.outputs import table

        print(table(scores))
    sys.stdout.flush()
