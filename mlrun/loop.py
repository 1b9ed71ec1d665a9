"""The training loop: `fit()` yields one record per epoch; `evaluate()` scores a split.

Speed comes from the data path, not from the loop body: the splits already live on the device, each epoch
permutes the train split once on the device and slices contiguous batches (no DataLoader, no per-sample
Python), and the step never syncs with the host (losses are summed on the device, read once per epoch).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable, Iterator

import torch

from mlrun.datasets.spec import Split
from mlrun.metrics import HIGHER_IS_BETTER, METRICS, task_metrics

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_step(model, loss_fn, optimizer, l2: float = 0.0, clip_grad_norm: float = 0.0,
              precision: str = "fp32", device: torch.device = torch.device("cpu"), penalty=None) -> Step:
    """One optimisation step on a batch; returns the batch's data loss (0-d, on device, detached).
    `penalty`: a function () → 0-d tensor added to the objective (e.g. mlrun.models.MF.penalty), not to the loss."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16" and device.type == "cuda")
    weights = [p for p in model.parameters() if p.ndim >= 2]   # l2 penalises weight matrices, not biases

    def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        with autocast():
            loss = loss_fn(model(xb), yb)
        objective = loss + l2 * sum(w.pow(2).sum() for w in weights) if l2 else loss
        if penalty is not None:
            objective = objective + penalty()
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(objective).backward()
        if clip_grad_norm:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        return loss.detach()

    return step


def train_epoch(step: Step, train: Split, batch_size: int, shuffle: bool, generator: torch.Generator | None,
                progress: Callable = iter) -> torch.Tensor:
    """One pass over `train`; returns the mean batch loss weighted by batch size (0-d, on device)."""
    x, y = train.x, train.y
    if shuffle:                                   # one gather per epoch, then every batch is a free view
        order = torch.randperm(len(y), device=y.device, generator=generator)
        x, y = x[order], y[order]
    total = torch.zeros((), device=y.device)
    for start in progress(range(0, len(y), batch_size)):
        yb = y[start:start + batch_size]
        total += step(x[start:start + batch_size], yb) * len(yb)
    return total / max(len(y), 1)


@torch.no_grad()
def evaluate(model, split: Split, loss_fn, task: str, batch_size: int = 4096) -> dict[str, float]:
    """Mean loss and task metrics over `split` (NaN for an empty split); one host sync."""
    if len(split) == 0:
        return {"loss": math.nan, **{k: math.nan for k in METRICS[task]}}
    was_training = model.training
    model.eval()
    out = torch.cat([model(split.x[i:i + batch_size]).float() for i in range(0, len(split), batch_size)])
    model.train(was_training)
    scores = {"loss": loss_fn(out, split.y), **task_metrics(out, split.y, task)}
    values = torch.stack(list(scores.values())).tolist()      # the one sync
    return dict(zip(scores, values))


def fit(model, step: Step, train: Split, val: Split, loss_fn, task: str, metric: str, *, epochs: int,
        batch_size: int, shuffle: bool = True, patience: int = 0, scheduler=None, optimizer=None,
        generator: torch.Generator | None = None, eval_batch_size: int = 4096,
        progress: Callable = iter) -> Iterator[tuple[dict, bool]]:
    """Train for up to `epochs`; yield (record, improved) after each epoch's validation.

    record: epoch, train_loss, val_loss, val_<metric>, lr, epoch_seconds, samples_per_second.
    improved: the monitored val metric is the best so far (always true when val is empty, never when NaN).
    Stops early after `patience` epochs without improvement (0 = never).
    """
    higher = HIGHER_IS_BETTER[metric]
    best, since_best = None, 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        lr = optimizer.param_groups[0]["lr"] if optimizer is not None else math.nan
        train_loss = float(train_epoch(step, train, batch_size, shuffle, generator, progress))  # syncs once
        train_seconds = time.perf_counter() - start
        scores = evaluate(model, val, loss_fn, task, eval_batch_size)
        if scheduler is not None:
            scheduler.step()
        value = scores[metric]
        if len(val) == 0:                         # nothing to monitor: the last epoch is the best
            improved = True
        else:                                     # NaN (diverged) never improves
            improved = not math.isnan(value) and (best is None or (value > best if higher else value < best))
        if improved:
            best, since_best = value, 0
        else:
            since_best += 1
        yield {"epoch": epoch, "train_loss": train_loss, "val_loss": scores["loss"], f"val_{metric}": value,
               "lr": lr, "epoch_seconds": time.perf_counter() - start,
               "samples_per_second": len(train) / max(train_seconds, 1e-9)}, improved
        if patience and since_best >= patience:
            break
