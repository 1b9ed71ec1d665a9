"""`evaluate()`: mean loss and task metrics of a model over a split, in batches, with one host sync."""

from __future__ import annotations

import math

import torch

from mlrun.datasets.spec import Split
from mlrun.metrics.tasks import METRICS, task_metrics

UNIT_METRICS = {"rmse", "mae"}      # in the target's units (r2, acc: unitless; the loss stays in training units)


@torch.no_grad()
def evaluate(model, split: Split, loss_fn, task: str, batch_size: int = 4096,
             device: torch.device | None = None) -> dict[str, float]:
    """Mean loss and task metrics over `split` (NaN for an empty split); one host sync.
    `device`: where the model is, when the split is kept on the host (each chunk is copied there)."""
    if len(split) == 0:
        return {"loss": math.nan, **{k: math.nan for k in METRICS[task]}}
    device = device or split.x.device
    was_training = model.training
    model.eval()
    out = torch.cat([model(split.x[i:i + batch_size].to(device, non_blocking=True)).float()
                     for i in range(0, len(split), batch_size)])
    model.train(was_training)
    y = split.y.to(device)
    scores = {"loss": loss_fn(out, y), **task_metrics(out, y, task)}
    values = dict(zip(scores, torch.stack(list(scores.values())).tolist()))      # the one sync
    for key in UNIT_METRICS & values.keys():      # a standardized target: errors back in the target's units
        values[key] *= split.y_scale
    return values
