"""A saved run, rebuilt: score a checkpoint on a split of its dataset (`mlrun eval`).

    evaluate_checkpoint("outputs/<run>/checkpoints/best.pt", "test")   # {"test_loss": ..., "test_acc": ..., ...}

The dataset and model are rebuilt from the config stored in the checkpoint by mlrun.infer.stored (the same order as
training: same seed → same split, scaling and projection), through the registry allowlist, then the weights
are loaded (the checkpoint passes mlrun.infer.validate first). Extra key=value overrides change keys of the stored
config (e.g. `dataset.path=...`, `device=cpu`).
"""

from __future__ import annotations

from mlrun.errors import choose
from mlrun.fit.build import network
from mlrun.infer.stored import rebuild
from mlrun.infer.validate import open_checkpoint
from mlrun.metrics.scoring import evaluate

SPLITS = ("train", "val", "test")


def evaluate_checkpoint(path: str, split: str = "test", overrides: list[str] = ()) -> dict:
    """{"<split>_<metric>": value, ..., "epoch": the checkpoint's epoch, "n": examples scored}."""
    choose({s: s for s in SPLITS}, "split", split)
    payload = open_checkpoint(path, list(overrides)).payload    # every stored value checked before building
    cfg, p = rebuild(payload, list(overrides), key=f"checkpoint={path!r}")
    part = getattr(p.data, split)
    scores = evaluate(network(p.model, p.data), part, p.plan.loss_fn, p.spec.task, p.trainer.eval_batch_size,
                      p.device)
    scores = {f"{split}_{k}": v for k, v in scores.items()} | p.model.split_metrics(p.source, split)   # MF: ranking
    return scores | {"epoch": payload.get("epoch"), "n": len(part)}
