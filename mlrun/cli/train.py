"""`mlrun train [group=option] [key=value] [-m]`: parse → settle the run (mlrun.fit.launch) → Hydra → mlrun.fit.run.train.

A bad value ends in one line on stderr and exit 2. In a single run the folder it had just created is removed
(nothing in outputs/ looks like a result); in a sweep the job's folder keeps `error.txt`, the other jobs go on,
and the command exits 1 at the end. SIGINT/SIGTERM: exit 130/143 after a checkpoint, with the resume command;
NaN/Inf with trainer.nan_policy=stop: exit 3, the run folder and its checkpoints kept (mlrun.runtime.faults).
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import nullcontext
from pathlib import Path

from mlrun.cli.common import fail

INFO_FLAGS = ("-h", "--help", "--hydra-help", "--info", "-i", "--shell-completion", "-sc")


def main(argv: list[str], launch: list | None = None) -> None:
    """`launch`: a list that receives the Launch record (the Python API reads the run folder and result there)."""
    from mlrun.errors import Stopped

    launch = [] if launch is None else launch  # filled by _main: what to clean up after a stop
    try:
        _main(argv, launch)
    except Stopped as e:                       # before the training loop took over: nothing worth keeping
        _drop_unfinished(launch[0] if launch else None)
        fail("mlrun train", f"{e}; nothing was saved", e.code)
    except OSError as e:                       # e.g. the disk was full before the run could write .hydra/
        _drop_unfinished(launch[0] if launch else None)
        fail("mlrun train", f"cannot write the run folder: {e.strerror or e} ({e.filename or ''})", 1)


def _main(argv: list[str], started: list) -> None:
    import hydra

    from mlrun.sweep import summary as sweep
    from mlrun.config.compose import user_searchpath
    from mlrun.errors import UserError
    from mlrun.paths import config_dir

    sweep.register_resolvers()
    missing = sweep.missing_plugin(argv)
    if missing:
        fail("mlrun train", missing)
    searchpath = user_searchpath()             # ./conf/<group>/<option>.yaml adds options without editing mlrun
    if searchpath:
        argv = [*argv, f"hydra.searchpath=[{searchpath}]"]
    if any(a in ("-m", "--multirun") for a in argv):   # flags first: argparse cannot split overrides around -m
        if any(a in ("--cfg", "-c") for a in argv):    # Hydra would raise a ValueError
            fail("mlrun train", "--cfg prints one composed config; drop -m (and give one value per key) to see it")
        argv = ["-m", *[a for a in argv if a not in ("-m", "--multirun")]]
    launch = None
    if not any(a in INFO_FLAGS for a in argv):
        from hydra._internal.utils import get_args_parser   # Hydra's own parser: flags vs overrides

        from mlrun.fit.launch import prepare
        from mlrun.config.precheck import check_overrides

        problem = check_overrides(config_dir(), get_args_parser().parse_args(argv).overrides, searchpath)
        if problem:
            fail("mlrun train", problem)
        if not any(a in ("--cfg", "-c") for a in argv):
            try:
                launch = prepare(argv, searchpath)
            except UserError as e:
                fail("mlrun train", str(e))
            started.append(launch)
            argv = launch.argv
    completion = any(a in ("-sc", "--shell-completion") for a in argv)
    sys.argv = ["mlrun" if completion else "mlrun train", *argv]   # the script registers `mlrun`
    if any("optuna" in a for a in argv):       # Optuna's sweeper raises when every trial failed: let it reach us
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")

    def task(cfg) -> float:                    # Hydra's composed config, the launch record, explicitly
        value = run_task(cfg, launch)
        if launch is not None:
            launch.result = value
        return value

    try:
        hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(task)()
    except Exception as e:
        from hydra.errors import HydraException

        rows = sweep.collect(launch.sweep_dir) if launch and launch.sweep_dir else []
        if isinstance(e, UserError) and not rows:          # e.g. a sweep callback refusing its launcher
            _drop_if_empty(launch)
            fail("mlrun train", str(e))
        if isinstance(e, HydraException) and not rows:     # a bad hydra.* override: one line, as Hydra would
            _drop_if_empty(launch)
            fail("mlrun train", str(e).split("\n")[0])
        if not rows or any(r["status"] == "ok" for r in rows):
            raise
    finally:
        if "mlrun.runtime.distributed" in sys.modules:
            sys.modules["mlrun.runtime.distributed"].shutdown()
    if launch is not None:
        report_failed_jobs(launch)


def run_task(cfg, launch) -> float:
    """One job: train `cfg` in Hydra's output folder and turn every failure into one line (see the docstring).
    On resume the checkpoint's config is trained, not Hydra's: Hydra composed only this command's overrides, which
    mlrun.fit.launch has already merged into the checkpoint's config (or refused)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from mlrun.errors import UserError
    from mlrun.runtime.faults import EXIT_DIVERGED, Diverged, Stopped, on_signals, stop_now
    from mlrun.runtime.rundir import RunLock, discard, remove_stale_temporaries
    from mlrun.fit.run import train

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    if multirun:
        share_cores(hc.launcher.get("n_jobs"))
    resume = launch.resume if launch is not None else None
    owner = launch.owner if launch is not None else True
    mine = owner and resume is None and (launch is None or launch.claimed)   # a folder this command made
    last = run_dir / "checkpoints" / "last.pt"
    try:
        with on_signals(stop_now), RunLock(run_dir) if owner else nullcontext():   # one process per run folder
            if owner:
                remove_stale_temporaries(run_dir)
            if resume is not None:   # the loop installs its own handler: stop at the next step boundary
                return train(resume["cfg"], run_dir, resume=resume["payload"])
            return train(cfg, run_dir)
    except Stopped as e:                 # exit 130 (SIGINT) / 143 (SIGTERM)
        if not owner:                    # rank 0 says it
            sys.exit(e.code)
        if not last.exists() and resume is None:
            logging.shutdown()
            if mine:
                discard(run_dir)
            fail("mlrun train", f"{e}; nothing was saved", e.code)
        how = f"mlrun train resume={run_dir}"
        if launch is not None and launch.world > 1:
            how = f"torchrun --nproc_per_node=<N> -m {how}"
        fail("mlrun train", f"{e}; checkpoint {last}; resume with: {how}", e.code)
    except Exception as e:  # noqa: BLE001 - in a sweep any failure is recorded and the other jobs go on
        if not multirun and not isinstance(e, (UserError, OSError)):
            raise
        line = _line(e, run_dir)
        if multirun:
            return _job_failed(hc, run_dir, line, e, launch)
        if isinstance(e, Diverged):      # keep the run folder: metrics.csv, last good checkpoints
            if owner:
                (run_dir / "error.txt").write_text(line + "\n")
            fail("mlrun train", line, EXIT_DIVERGED)
        if isinstance(e, OSError):
            fail("mlrun train", line, 1)
        if mine and not (run_dir / "checkpoints").exists():
            logging.shutdown()           # failed before training: leave no half-made run behind
            discard(run_dir)
        elif resume is None and owner:
            (run_dir / "error.txt").write_text(line + "\n")
        fail("mlrun train", line)


def share_cores(n_jobs) -> int:
    """A sweep job's torch threads: the machine's cores ÷ the launcher's parallel jobs (joblib's n_jobs; -1 = one
    job per core), at least 1, unless trainer.threads says otherwise (then mlrun.fit.build sets it). Without this,
    2 jobs × torch's 2 default threads on 2 cores oversubscribe and the sweep runs no faster than in sequence."""
    import torch

    cores = os.cpu_count() or 1
    jobs = cores if n_jobs == -1 else (n_jobs if isinstance(n_jobs, int) and n_jobs > 0 else 1)
    threads = max(1, cores // jobs)
    if jobs > 1:
        torch.set_num_threads(threads)
    return threads


def _line(e: Exception, run_dir: Path) -> str:
    from mlrun.errors import UserError

    if isinstance(e, OSError):           # disk full, folder removed or made read-only during the run
        return f"cannot write the run folder {run_dir}: {e.strerror or e} ({getattr(e, 'filename', '') or ''})"
    line = " ".join(str(e).split())
    return line if isinstance(e, UserError) else f"{type(e).__name__}: {line}"


def _job_failed(hc, run_dir: Path, line: str, e: Exception, launch) -> float:
    """A failed sweep job: error.txt in its folder, a log line, and the sweeper told in its own terms."""
    from mlrun.errors import UserError

    (run_dir / "error.txt").write_text(line + "\n")
    logging.getLogger("mlrun").error("job %s failed: %s", hc.job.num, line, exc_info=not isinstance(e, UserError))
    if launch is not None:
        launch.failed.append(str(run_dir))
    if "optuna" in str(hc.sweeper.get("_target_")):   # a raise makes a FAIL trial; NaN crashes that sweeper
        from mlrun.sweep.summary import JobFailed

        raise JobFailed(line) from None
    return float("nan")


def report_failed_jobs(launch) -> None:
    """Exit 1 with one line when sweep jobs failed (in this process or, per the sweep's rows, elsewhere)."""
    from mlrun.sweep import summary as sweep

    rows = sweep.collect(launch.sweep_dir) if launch.sweep_dir else []
    failed = {d: "" for d in launch.failed} | {r["run_dir"]: r.get("error", "") for r in rows
                                                if r.get("status") != "ok"}
    if failed:
        first = next((e for e in failed.values() if e), "")
        fail("mlrun train", f"{len(failed)} sweep job(s) failed{f' (first: {first})' if first else ''}; "
                            f"see error.txt in {', '.join(sorted(failed))}", 1)


def _drop_unfinished(launch) -> None:
    """A stop or a write failure before any checkpoint: remove the folder this command claimed (not a resumed
    run's, which holds earlier results)."""
    if launch is None or launch.resume is not None or not launch.owner or not launch.claimed:
        return                                 # (before any import: a stop may have left one half-done)
    from mlrun.runtime.rundir import discard

    logging.shutdown()
    for folder in (launch.run_dir, launch.sweep_dir):
        if folder is not None and folder.is_dir() and not any(folder.rglob("checkpoints")):
            discard(folder)


def _drop_if_empty(launch) -> None:
    """Hydra refused to start: the folder claimed for it holds nothing yet; remove it."""
    from mlrun.runtime.rundir import discard

    for folder in (launch.run_dir, launch.sweep_dir) if launch is not None and launch.claimed else ():
        if folder is not None and folder.is_dir() and not any(folder.iterdir()):
            discard(folder)
