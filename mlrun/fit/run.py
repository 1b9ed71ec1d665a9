"""One run: build → fit → test → write. `mlrun train` (mlrun.cli.train) calls `train(cfg, run_dir)` on the config
Hydra composed; tests and the Python API call it on a composed config too.

    mlrun train                                              # MLP on digits
    mlrun train model=linear dataset=diabetes                # least squares, solved exactly
    mlrun train model=logistic dataset=iris optimizer=sgd    # the gradient loop, its gap to the optimum logged
    mlrun train resume=outputs/<date>/<time>                 # continue from its checkpoints/last.pt

Around the loop: mlrun.fit.build (the parts, in one order, with the fitter: mlrun.fit.fitters), mlrun.fit.run_state
(position, best epoch, checkpoints, NaN policy), mlrun.runtime.faults (SIGINT/SIGTERM stop at a step boundary), mlrun.runtime.distributed (trainer.strategy=ddp).
"""

from __future__ import annotations

import copy
import logging
import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from mlrun import loggers
from mlrun.fit import build
from mlrun.runtime import faults, provenance
from mlrun.fit.cv import cross_validate
from mlrun.fit.fitters import GradientFit
from mlrun.errors import UserError
from mlrun.metrics.tasks import HIGHER_IS_BETTER
from mlrun.runtime.outputs import MetricsCSV, environment, epoch_line, progress, table, write_json
from mlrun.metrics.references import reference_for
from mlrun.fit.resume import reopen_metrics
from mlrun.fit.run_state import RunState
from mlrun.fit.trial import Trial
from mlrun.metrics.scoring import evaluate

log = logging.getLogger("mlrun")


def train(cfg: DictConfig, run_dir: str | Path, resume: dict | None = None, trial: Trial | None = None) -> float:
    """Build every part of `cfg`, train, write outputs under `run_dir`; return the best monitored val metric.
    resume: the payload of a last.pt (mlrun.fit.resume.load); `cfg` is then its (merged) config.
    trial: a search job's Optuna trial (mlrun.fit.trial): told the val metric each epoch, it may stop the run."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.trainer.get("cv_folds", 1) != 1:        # k-fold cross validation: one train() per fold
        return cross_validate(cfg, run_dir, train)
    started = time.perf_counter()
    # ---- build: every part is checked before any training starts
    p = build.assemble(cfg)
    cfg = concrete(cfg, p)
    state = RunState.begin(cfg, run_dir, p, p.ddp, resume)
    p.ddp.seed_ranks(cfg.seed, state.position.step)
    rank0 = p.ddp.rank == 0
    logger = loggers.start(cfg, run_dir) if rank0 else loggers.NoLogger()
    csv = MetricsCSV(run_dir / "metrics.csv")
    if resume is not None and rank0:               # a model that fits itself restarts its fit
        csv.fields = reopen_metrics(run_dir / "metrics.csv", state.position.epoch)
        log.info("resuming %s at epoch %d, batch %d (step %d)", run_dir, state.position.epoch + 1,
                 state.position.batch, state.position.step)
    log.info("%s: %s on %s (%s, %d train / %d val / %d test), %d parameters, %s", run_dir, cfg.model._target_,
             p.spec.name, p.spec.task, len(p.data.train), len(p.data.val), len(p.data.test), n_params(p.model),
             p.device)
    fit_epochs(p, state, csv, logger, rank0, trial)
    if state.best_state is None:
        raise UserError(f"training diverged: val_{p.spec.metric} was NaN in every epoch; lower optimizer.lr "
                        f"(now {cfg.optimizer.get('lr')}) or set trainer.clip_grad_norm")
    finish(cfg, run_dir, p, state, logger, rank0, started, trial)
    if still_improving(p, state) and not (trial and trial.pruned):                  # the log's last line
        more = 2 * p.plan.epochs
        log.info("still improving: val_%s was best at the last epoch (%d of %d); give it more epochs, e.g. "
                 "trainer.epochs=%d (or continue it: mlrun train resume=%s trainer.epochs=%d)", p.spec.metric,
                 state.record["epoch"], p.plan.epochs, more, run_dir, more)
    return state.best_record[f"val_{p.spec.metric}"]


def concrete(cfg: DictConfig, p: build.Parts) -> DictConfig:
    """`cfg` as it trains: a convex model's solver as the build settled it (auto → exact | gradient,
    mlrun.fit.solver_choice), so checkpoints (and a resume) record the choice. A copy; `cfg` is left as it is."""
    if p.model.convex is None or cfg.model.get("solver") in (None, p.model.solver):
        return cfg
    cfg = copy.deepcopy(cfg)
    cfg.model.solver = p.model.solver
    return cfg


def still_improving(p: build.Parts, state: RunState) -> bool:
    """A gradient run that used every epoch and whose best epoch is its last (more epochs would likely help)."""
    return (isinstance(p.fitter, GradientFit) and p.plan.epochs > 1 and state.record["epoch"] == p.plan.epochs
            and state.best_record["epoch"] == p.plan.epochs)


def fit_epochs(p: build.Parts, state: RunState, csv: MetricsCSV, logger, rank0: bool, trial: Trial | None = None
               ) -> None:
    """Run the fitter: each record goes to metrics.csv and the logger (rank 0), the console, and `state` (NaN
    check, best.pt, last.pt; stops there after a signal); a search's trial may prune the run after any epoch."""
    fitter = p.fitter
    with progress(fitter.steps_left(state.position), enabled=sys.stderr.isatty()) as bar, \
            faults.on_signals(state.boundary.handler):
        for record, improved in fitter.records(bar, state.position, state.boundary, p.ddp.sum):
            if rank0:
                csv.append(record)
                logger.log_epoch(record)
            log.info(epoch_line(record, improved, fitter.expected, fitter.unit))
            state.epoch_end(record, improved)
            if trial is not None and trial.report(record[f"val_{p.spec.metric}"], record["epoch"]):
                log.info("pruned after %s %d: val_%s is behind the search's other trials (hydra.sweeper.pruner)",
                         fitter.unit, record["epoch"], p.spec.metric)
                break


def finish(cfg: DictConfig, run_dir: Path, p: build.Parts, state: RunState, logger, rank0: bool,
           started: float, trial: Trial | None = None) -> None:
    """Test the best epoch's weights; rank 0 writes summary.json and the model's artifacts. `started`: the
    run's perf_counter() start."""
    p.model.load_state_dict(state.best_state)
    test = evaluate(build.network(p.model, p.data), p.data.test, p.plan.loss_fn, p.spec.task,
                    p.trainer.eval_batch_size, p.device)
    test |= {k.removeprefix("test_"): v for k, v in p.model.split_metrics(p.source, "test").items()}
    summary = summarize(cfg, p, state, test, time.perf_counter() - started)
    if trial is not None and trial.pruned:        # stopped by the search; fast_dev_run keeps its own status
        summary["status"] = "pruned"
    summary.setdefault("status", "ok")
    if rank0:
        summary["provenance"] = provenance.collect(run_dir, p.device, p.data_files)   # packages, git, data files
        if p.spec.transform:                       # the fitted preprocessing, apart: summary.json stays readable
            write_json(run_dir / TRANSFORM, p.spec.transform)
        write_json(run_dir / "summary.json", summary)
        p.model.write_artifacts(run_dir, p.data)   # e.g. a plot in the run dir
        loggers.finish(logger, summary, run_dir / "checkpoints" / "best.pt")
    if p.trainer.fast_dev_run:
        log.warning("trainer.fast_dev_run=true: %s (summary.json: status fast_dev_run)", FAST_DEV_RUN)
    log.info("done: %s\n%s", run_dir, table({k: v for k, v in summary.items() if k.startswith(("test_", "best_"))
                                             or k in ("epochs_run", "total_seconds", "n_params", "device")}))


TRANSFORM = "transform.json"     # the fitted preprocessing (spec.transform: fill values, shift/scale per feature, ...)
# summary.json's note on a trainer.fast_dev_run=true run (status "fast_dev_run"; mlrun report shows no metrics for it)
FAST_DEV_RUN = "one batch of each split: checks that every step runs; its metrics measure nothing"


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
        "dataset": p.spec.name, "model": cfg.model._target_, **environment(p.device),
        "spec": {k: v for k, v in p.spec.to_dict().items() if k != "transform"},
        **({"transform_file": TRANSFORM} if p.spec.transform else {}),   # per-feature numbers: transform.json
        "reference": reference_for(cfg, p.spec, test),      # closest published result (mlrun/metrics/references.yaml)
        **({"solver": p.model.solver} if p.model.convex else {}),   # a convex model: exact | gradient
        "still_improving": still_improving(p, state),
    } | p.model.summary_metrics() | p.fitter.summary_metrics() | (   # model extras (PCA eigenvalues, NFE); the optimum
        {"status": "fast_dev_run", "note": FAST_DEV_RUN} if p.trainer.fast_dev_run else {})
