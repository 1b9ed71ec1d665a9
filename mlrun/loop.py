"""The training loop: `fit()` yields one record per epoch; `evaluate()` scores a split.

Speed comes from the data path, not from the loop body: the splits already live on the device, each epoch
permutes the train split once on the device and slices contiguous batches (no DataLoader, no per-sample
Python), and the step never syncs with the host (losses are summed on the device, read once per epoch).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from mlrun.datasets.spec import Split
from mlrun.metrics import HIGHER_IS_BETTER, METRICS, task_metrics

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_step(model, loss_fn, optimizer, l2: float = 0.0, clip_grad_norm: float = 0.0,
              precision: str = "fp32", device: torch.device = torch.device("cpu"),
              skip_nonfinite: bool = False) -> Step:
    """One optimisation step on a batch; returns the batch's data loss (0-d, on device, detached).

    skip_nonfinite (trainer.nan_policy=skip_batch): a batch whose loss or gradient is NaN/Inf gets its gradient
    zeroed on the device (no host sync) and reports loss 0; `step.skipped` counts such batches (0-d, on device).
    """
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16" and device.type == "cuda")
    weights = [p for p in model.parameters() if p.ndim >= 2]   # l2 penalises weight matrices, not biases
    skip = skip_nonfinite and not scaler.is_enabled()         # the fp16 scaler already skips inf steps
    params = [p for p in model.parameters() if p.requires_grad]

    def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        with autocast():
            loss = loss_fn(model(xb), yb)
        objective = loss + l2 * sum(w.pow(2).sum() for w in weights) if l2 else loss
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(objective).backward()
        if skip:
            loss = _zero_nonfinite(loss, params, step.skipped)
        if clip_grad_norm:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        return loss.detach()

    step.skipped = torch.zeros((), dtype=torch.int64, device=device)
    return step


def _zero_nonfinite(loss: torch.Tensor, params: list, skipped: torch.Tensor) -> torch.Tensor:
    """Zero every gradient when the loss or any gradient is not finite; all on the device."""
    grads = [p.grad for p in params if p.grad is not None]
    ok = torch.isfinite(loss) & torch.stack([torch.isfinite(g).all() for g in grads]).all()
    for g in grads:
        g.masked_fill_(~ok, 0.0)
    skipped += ~ok
    return torch.where(ok, loss, torch.zeros_like(loss))


@dataclass
class Position:
    """Where `fit` is, saved in last.pt so a resumed run continues exactly (mlrun.resume)."""
    epoch: int = 0                        # epochs finished
    batch: int = 0                        # batches finished of epoch `epoch + 1` (a mid-epoch checkpoint)
    total: torch.Tensor | None = None     # Σ batch loss × batch size over those batches (0-d, on device)
    shuffle_state: torch.Tensor | None = None   # the shuffle generator's state when epoch `epoch + 1` began
    step: int = 0                         # optimiser steps taken in all
    best: float | None = None             # best monitored val metric so far
    since_best: int = 0                   # epochs since it improved


def train_epoch(step: Step, train: Split, batch_size: int, shuffle: bool, generator: torch.Generator | None,
                progress: Callable = iter, at: tuple[int, torch.Tensor] | None = None,
                boundary=None) -> torch.Tensor:
    """One pass over `train`; returns the mean batch loss weighted by batch size (0-d, on device).

    at: (batches already done, their running total) to finish an epoch begun before a restart.
    boundary: after each step, `boundary.stop` (a signal arrived) or `boundary.steps == boundary.next` (every N
    steps) calls `boundary.reached(batches done, total)`, which checkpoints and may stop; attribute reads only.
    """
    x, y = train.x, train.y
    if shuffle:                                   # one gather per epoch, then every batch is a free view
        order = torch.randperm(len(y), device=y.device, generator=generator)
        x, y = x[order], y[order]
    first, total = at or (0, torch.zeros((), device=y.device))
    for start in progress(range(first * batch_size, len(y), batch_size)):
        yb = y[start:start + batch_size]
        total += step(x[start:start + batch_size], yb) * len(yb)
        if boundary is not None:
            boundary.steps += 1
            if boundary.stop or boundary.steps == boundary.next:
                boundary.reached(start // batch_size + 1, total)
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
        progress: Callable = iter, position: Position | None = None, boundary=None,
        reduce: Callable = None) -> Iterator[tuple[dict, bool]]:
    """Train for up to `epochs`; yield (record, improved) after each epoch's validation.

    record: epoch, train_loss, val_loss, val_<metric>, lr, epoch_seconds, samples_per_second.
    improved: the monitored val metric is the best so far (always true when val is empty, never when NaN).
    Stops early after `patience` epochs without improvement (0 = never).
    position: kept up to date here (a checkpoint saves it); a restored one continues where it left off.
    reduce: sums the epoch's loss over processes (DDP); boundary: see `train_epoch`.
    """
    higher = HIGHER_IS_BETTER[metric]
    pos = position if position is not None else Position()
    for epoch in range(pos.epoch + 1, epochs + 1):
        if patience and pos.since_best >= patience:
            break
        start = time.perf_counter()
        model.train()
        lr = optimizer.param_groups[0]["lr"] if optimizer is not None else math.nan
        if pos.batch and generator is not None:   # finish the epoch a checkpoint interrupted: same order
            generator.set_state(pos.shuffle_state)
        elif generator is not None:
            pos.shuffle_state = generator.get_state()
        at, pos.batch, pos.total = ((pos.batch, pos.total) if pos.batch else None), 0, None
        loss = train_epoch(step, train, batch_size, shuffle, generator, progress, at, boundary)
        train_loss = float(reduce(loss) if reduce else loss)                                    # syncs once
        train_seconds = time.perf_counter() - start
        scores = evaluate(model, val, loss_fn, task, eval_batch_size)
        if scheduler is not None:
            scheduler.step()
        value = scores[metric]
        best = pos.best
        if len(val) == 0:                         # nothing to monitor: the last epoch is the best
            improved = True
        else:                                     # NaN (diverged) never improves
            improved = not math.isnan(value) and (best is None or (value > best if higher else value < best))
        if improved:
            pos.best, pos.since_best = value, 0
        else:
            pos.since_best += 1
        pos.epoch = epoch
        yield {"epoch": epoch, "train_loss": train_loss, "val_loss": scores["loss"], f"val_{metric}": value,
               "lr": lr, "epoch_seconds": time.perf_counter() - start,
               "samples_per_second": len(train) / max(train_seconds, 1e-9)}, improved
