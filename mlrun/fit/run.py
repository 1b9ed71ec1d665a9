"""One run: build → fit → test → write. `mlrun train` (mlrun.cli.train) calls `train(cfg, run_dir)` on the config
Hydra composed; tests and the Python API call it on a composed config too.

    mlrun train                                              # MLP on digits
    mlrun train model=linear dataset=diabetes model.solver=lstsq
    mlrun train resume=outputs/<date>/<time>                 # continue from its checkpoints/last.pt

Around the loop: mlrun.fit.build (the parts, in one order), mlrun.fit.run_state (position, best epoch, checkpoints,
NaN policy), mlrun.runtime.faults (SIGINT/SIGTERM stop at a step boundary), mlrun.runtime.distributed (trainer.strategy=ddp).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from mlrun import loggers
from mlrun.fit import build
from mlrun.runtime import faults
from mlrun.fit.cv import cross_validate
from mlrun.errors import UserError
from mlrun.fit.loop import fit
from mlrun.metrics.tasks import HIGHER_IS_BETTER
from mlrun.runtime.outputs import MetricsCSV, environment, epoch_line, progress, table, write_json
from mlrun.metrics.references import reference_for
from mlrun.fit.resume import reopen_metrics
from mlrun.fit.run_state import RunState
from mlrun.metrics.scoring import evaluate

log = logging.getLogger("mlrun")


def train(cfg: DictConfig, run_dir: str | Path, resume: dict | None = None) -> float:
    """Build every part of `cfg`, train, write outputs under `run_dir`; return the best monitored val metric.
    resume: the payload of a last.pt (mlrun.fit.resume.load); `cfg` is then its (merged) config."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.trainer.get("cv_folds", 1) != 1:        # k-fold cross validation: one train() per fold
        return cross_validate(cfg, run_dir, train)
    started = time.perf_counter()
    # ---- build: every part is checked before any training starts
    p = build.assemble(cfg)
    ddp = p.ddp
    state = RunState.begin(cfg, run_dir, p, ddp, resume)
    ddp.seed_ranks(cfg.seed, state.position.step)
    rank0 = ddp.rank == 0
    logger = loggers.start(cfg, run_dir) if rank0 else loggers.NoLogger()
    csv = MetricsCSV(run_dir / "metrics.csv")
    if resume is not None and rank0:               # a model that fits itself restarts its fit
        csv.fields = reopen_metrics(run_dir / "metrics.csv", state.position.epoch)
        log.info("resuming %s at epoch %d, batch %d (step %d)", run_dir, state.position.epoch + 1,
                 state.position.batch, state.position.step)
    log.info("%s: %s on %s (%s, %d train / %d val / %d test), %d parameters, %s", run_dir, cfg.model._target_,
             p.spec.name, p.spec.task, len(p.data.train), len(p.data.val), len(p.data.test), n_params(p.model),
             p.device)

    # ---- fit
    steps = 0 if p.fit_direct else p.epochs * state.n_batches - state.position.step
    with progress(steps, enabled=sys.stderr.isatty()) as bar, faults.on_signals(state.boundary.handler):
        records = p.fit_direct(p.data, p.trainer, p.loss_fn) if p.fit_direct else fit(
            p.net, p.step, p.data.train, p.data.val, p.loss_fn, p.spec.task, p.spec.metric, epochs=p.epochs,
            batch_size=p.batch_size, shuffle=p.shuffle, patience=p.trainer.patience, scheduler=p.scheduler,
            optimizer=p.optimizer, generator=p.generator, eval_batch_size=p.trainer.eval_batch_size,
            progress=bar, stream=p.stream, position=state.position, boundary=state.boundary, reduce=ddp.sum)
        for record, improved in records:
            record |= p.model.epoch_metrics()
            if p.trainer.nan_policy == "skip_batch" and not p.fit_direct:
                record["skipped_batches"] = int(state.skipped)
            if rank0:
                csv.append(record)
                logger.log_epoch(record)
            log.info(epoch_line(record, improved, *counting(p)))
            state.epoch_end(record, improved)      # NaN check, best.pt, last.pt; stops here after a signal
    if state.best_state is None:
        raise UserError(f"training diverged: val_{p.spec.metric} was NaN in every epoch; lower optimizer.lr "
                        f"(now {cfg.optimizer.get('lr')}) or set trainer.clip_grad_norm")

    # ---- test the best epoch's weights, write the summary
    p.model.load_state_dict(state.best_state)
    test = evaluate(build.network(p.model, p.data), p.data.test, p.loss_fn, p.spec.task,
                    p.trainer.eval_batch_size, p.device)
    summary = summarize(cfg, p, state, test, time.perf_counter() - started)
    if rank0:
        write_json(run_dir / "summary.json", summary)
        p.model.write_artifacts(run_dir, p.data)   # e.g. a plot in the run dir
        loggers.finish(logger, summary, run_dir / "checkpoints" / "best.pt")
    log.info("done: %s\n%s", run_dir, table({k: v for k, v in summary.items() if k.startswith(("test_", "best_"))
                                             or k in ("epochs_run", "total_seconds", "n_params", "device")}))
    return state.best_record[f"val_{p.spec.metric}"]


def counting(p: build.Parts) -> tuple[int | None, str]:
    """(how many records to expect, their unit) for the console: epochs, a solver's sweeps, or a model's own."""
    if p.fit_direct is None:
        return p.epochs, "epoch"
    if hasattr(p.optimizer, "fit_direct"):
        return p.epochs, getattr(p.optimizer, "epoch_unit", "sweep")
    return None, p.model.epoch_unit


def n_params(model) -> int:
    return sum(t.numel() for t in model.parameters())


def summarize(cfg: DictConfig, p: build.Parts, state: RunState, test: dict, seconds: float) -> dict:
    """summary.json: test metrics of the best epoch's weights, the best epoch, time, size, environment."""
    metric, best, last = p.spec.metric, state.best_record, state.record
    return {
        **{f"test_{k}": v for k, v in test.items()},
        "best_epoch": best["epoch"], f"best_val_{metric}": best[f"val_{metric}"],
        "monitor": f"val_{metric}", "mode": "max" if HIGHER_IS_BETTER[metric] else "min",
        "epochs_run": last["epoch"], "total_seconds": seconds,
        "samples_per_second": last["samples_per_second"], "n_params": n_params(p.model),
        "dataset": p.spec.name, "model": cfg.model._target_, "spec": p.spec.to_dict(), **environment(p.device),
        "reference": reference_for(cfg, p.spec, test),      # closest published result (mlrun/metrics/references.yaml)
    } | p.model.summary_metrics()                           # model extras, e.g. PCA eigenvalues, NFE totals
