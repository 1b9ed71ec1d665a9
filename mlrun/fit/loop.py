"""The training loop: `fit()` yields one record per epoch; `evaluate()` scores a split.

Speed comes from the data path, not from the loop body: the splits already live on the device, each epoch
permutes the train split once on the device and slices contiguous batches (no DataLoader, no per-sample
Python), and the step never syncs with the host (losses are summed on the device, read once per epoch).
Splits too large for the device stay on the host and are streamed (`Stream`: the same batches, copied as used).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from mlrun.datasets.spec import Split
from mlrun.metrics.records import Monitor, epoch_record
from mlrun.metrics.scoring import evaluate  # noqa: F401 - fit() scores val with it; re-exported

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_step(model, loss_fn, optimizer, l2: float = 0.0, clip_grad_norm: float = 0.0,
              precision: str = "fp32", device: torch.device = torch.device("cpu"), penalty=None,
              skip_nonfinite: bool = False) -> Step:
    """One optimisation step on a batch; returns the batch's data loss (0-d, on device, detached).

    penalty: a function () → 0-d tensor added to the objective (e.g. mlrun.models.MF.penalty), not to the loss.
    skip_nonfinite (trainer.nan_policy=skip_batch): a batch whose loss or gradient is NaN/Inf gets its gradient
    zeroed on the device (no host sync) and reports loss 0; `step.skipped` counts such batches (0-d, on device).
    Only what a setting needs runs per step: no autocast context at fp32, no grad scaler unless fp16 on CUDA,
    no penalty sum without l2 (small-batch CPU steps take ~100 µs, so a few µs of Python each is visible).
    """
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" and device.type == "cuda" else None
    weights = [p for p in model.parameters() if p.ndim >= 2]   # l2 penalises weight matrices, not biases
    skip = skip_nonfinite and scaler is None                   # the fp16 scaler already skips inf steps
    params = [p for p in model.parameters() if p.requires_grad]

    def forward(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        if dtype is None:
            return loss_fn(model(xb), yb)
        with torch.autocast(device.type, dtype=dtype):
            return loss_fn(model(xb), yb)

    def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        loss = forward(xb, yb)
        objective = loss + l2 * sum(w.pow(2).sum() for w in weights) if l2 else loss
        if penalty is not None:
            objective = objective + penalty()
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            objective.backward()
            if skip:
                loss = _zero_nonfinite(loss, params, step.skipped)
            if clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
        else:                                      # fp16 on CUDA: scale the loss, unscale before clipping
            scaler.scale(objective).backward()
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
    """Where `fit` is, saved in last.pt so a resumed run continues exactly (mlrun.fit.resume)."""
    epoch: int = 0                        # epochs finished
    batch: int = 0                        # batches finished of epoch `epoch + 1` (a mid-epoch checkpoint)
    total: torch.Tensor | None = None     # Σ batch loss × batch size over those batches (0-d, on device)
    shuffle_state: torch.Tensor | None = None   # the shuffle generator's state when epoch `epoch + 1` began
    step: int = 0                         # optimiser steps taken in all
    best: float | None = None             # best monitored val metric so far
    since_best: int = 0                   # epochs since it improved
    best_loss: float | None = None        # val loss at the best epoch (breaks ties of the monitored metric)


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


class _Rows(torch.utils.data.Dataset):
    """A host-resident split indexed by a whole batch of row indices at once (one gather per batch, no collate)."""

    def __init__(self, split: Split):
        self.x, self.y = split.x, split.y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[rows], self.y[rows]


class _EpochBatches:
    """Index batches for one epoch: contiguous slices of one permutation, as `train_epoch` draws them."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, generator: torch.Generator | None):
        self.n, self.batch_size, self.shuffle, self.generator = n, batch_size, shuffle, generator

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self):     # a generator: draws only when read (DataLoader makes and drops one extra iterator)
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        yield from order.split(self.batch_size)


class Stream:
    """Train batches of a split kept on the host, copied to `device` as they are used.

    A DataLoader whose workers gather whole batches (pinned memory on CUDA, non-blocking copies) in the order
    `train_epoch` would use for the same CPU generator, so on CPU both paths see identical batches.
    """

    def __init__(self, split: Split, batch_size: int, shuffle: bool, generator: torch.Generator | None,
                 device: torch.device, workers: int = 0, seed: int = 0):
        self.device, self.n = device, len(split)
        self.loader = torch.utils.data.DataLoader(
            _Rows(split), sampler=_EpochBatches(len(split), batch_size, shuffle, generator), batch_size=None,
            num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0,
            generator=torch.Generator().manual_seed(seed))    # its own: leaves the global RNG (dropout) alone

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for xb, yb in self.loader:
            yield xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)


def stream_epoch(step: Step, stream: Stream, progress: Callable = iter) -> torch.Tensor:
    """`train_epoch` over a `Stream`: the mean batch loss weighted by batch size (0-d, on device)."""
    total = torch.zeros((), device=stream.device)
    for xb, yb in progress(stream):
        total += step(xb, yb) * len(yb)
    return total / max(stream.n, 1)


@dataclass
class Plan:
    """What `fit` runs, built once in the build order (mlrun.fit.build.assemble)."""
    net: torch.nn.Module                  # what each step and the validation call: preprocessing + model
    step: Step                            # one optimisation step (make_step; through DDP with several processes)
    train: Split                          # on the device, or on the host with `stream`
    val: Split
    loss_fn: Callable
    task: str                             # the dataset task (DataSpec.task)
    metric: str                           # the monitored val metric
    epochs: int
    batch_size: int
    shuffle: bool = True
    patience: int = 0                     # epochs without improvement before stopping (0 = never)
    optimizer: torch.optim.Optimizer | None = None   # its lr goes into each record
    scheduler: object = None              # a torch lr scheduler, stepped once per epoch
    generator: torch.Generator | None = None         # draws the shuffles
    eval_batch_size: int = 4096
    stream: Stream | None = None          # the train batches when the splits stay on the host; None = slice `train`

    @property
    def batches(self) -> int:
        """Optimisation steps per epoch."""
        return -(-len(self.train) // self.batch_size)


def fit(plan: Plan, *, progress: Callable = iter, position: Position | None = None, boundary=None,
        reduce: Callable = None) -> Iterator[tuple[dict, bool]]:
    """Train for up to `plan.epochs`; yield (record, improved) after each epoch's validation.

    record: epoch, train_loss, val_loss, val_<metric>, lr, epoch_seconds, samples_per_second.
    improved: the monitored val metric is the best so far (always true when val is empty, never when NaN).
    Stops early after `plan.patience` epochs without improvement (0 = never).
    position: kept up to date here (a checkpoint saves it); a restored one continues where it left off.
    reduce: sums the epoch's loss over processes (DDP); boundary: see `train_epoch`.
    """
    p = plan
    pos = position if position is not None else Position()
    monitor = Monitor(p.metric, p.patience, pos.best, pos.since_best, pos.best_loss)
    for epoch in range(pos.epoch + 1, p.epochs + 1):
        if monitor.done:
            break
        start = time.perf_counter()
        p.net.train()
        lr = p.optimizer.param_groups[0]["lr"] if p.optimizer is not None else math.nan
        if pos.batch and p.generator is not None:   # finish the epoch a checkpoint interrupted: same order
            p.generator.set_state(pos.shuffle_state)
        elif p.generator is not None:
            pos.shuffle_state = p.generator.get_state()
        at, pos.batch, pos.total = ((pos.batch, pos.total) if pos.batch else None), 0, None
        if p.stream is None:
            loss = train_epoch(p.step, p.train, p.batch_size, p.shuffle, p.generator, progress, at, boundary)
        else:                                     # host-resident data: checkpoints and stops at epoch ends only
            loss = stream_epoch(p.step, p.stream, progress)
        train_loss = float(reduce(loss) if reduce else loss)                                    # syncs once
        train_seconds = time.perf_counter() - start
        scores = evaluate(p.net, p.val, p.loss_fn, p.task, p.eval_batch_size, p.stream and p.stream.device)
        if p.scheduler is not None:
            p.scheduler.step()
        improved = monitor.update(scores[p.metric], has_val=len(p.val) > 0, loss=scores.get("loss"))
        pos.epoch, pos.best, pos.since_best, pos.best_loss = epoch, monitor.best, monitor.since_best, monitor.best_loss
        yield epoch_record(epoch, train_loss, scores, p.metric, time.perf_counter() - start,
                           len(p.train) / max(train_seconds, 1e-9), lr=lr), improved
