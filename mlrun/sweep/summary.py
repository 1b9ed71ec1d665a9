"""Sweep bookkeeping for `mlrun train -m`: one row per finished job in `<sweep dir>/sweep_summary.csv`.

    mlrun train -m optimizer=sgd,adam optimizer.lr=0.1,0.01              # 4 jobs, one after the other
    mlrun train -m hydra/launcher=joblib hydra.launcher.n_jobs=2 seed=0,1,2,3
    mlrun train -m hparams_search=optuna hydra.sweeper.n_trials=30      # conf/hparams_search/optuna.yaml

`SweepSummary` is a Hydra callback (conf/config.yaml, hydra.callbacks). `on_job_end` runs wherever the job ran
(this process, a joblib worker, a submitit/Slurm job) and appends the job's row under a file lock, so parallel jobs
never lose a row. `on_multirun_end` runs in the launching process: it reads the summary back from disk (plus any
`error.txt` without a row), logs the failures, prints the jobs' table best first (mlrun.report.console.sweep_table) and
logs the failures; `mlrun train` reads the rows back and exits 1. `on_multirun_start` stops a submitit_slurm
sweep (one line) where Slurm is not installed.

Also here: the resolvers used by the Optuna preset (`${mlrun_direction:}`, `${mlrun_optuna_storage:DIR}`,
`${mlrun_study_name:}`) and the one-line message for a sweeper/launcher plugin that is not installed or for Slurm
missing under hydra/launcher=submitit_slurm. docs/sweeps.md is the user's guide.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from mlrun.runtime.rundir import register_resolvers as _register_run_dir
from mlrun.errors import UserError

log = logging.getLogger("mlrun")

SUMMARY = "sweep_summary.csv"
DONE = ("ok", "pruned", "cached")     # a job's status when it did not fail (pruned: stopped by the search's pruner;
                                      # cached: a finished run reused, mlrun.fit.cache)
FIRST = ["job", "status", "overrides", "monitor", "best_val"]   # leading columns; test metrics etc. follow
LAST = ["best_epoch", "epochs_run", "total_seconds", "run_dir", "error"]

# override → (module it needs, what to call it, the extra that installs it). The Optuna sweeper is mlrun's own
# (hydra_plugins/mlrun_optuna, shipped with mlrun); it needs Optuna itself.
PLUGINS = {
    "hparams_search=optuna": ("optuna", "Optuna", "sweep"),
    "hparams_search=optuna_mlp": ("optuna", "Optuna", "sweep"),
    "hydra/sweeper=mlrun_optuna": ("optuna", "Optuna", "sweep"),
    "hydra/launcher=joblib": ("hydra_plugins.hydra_joblib_launcher", None, "sweep"),
    "hydra/launcher=submitit_local": ("hydra_plugins.hydra_submitit_launcher", None, "slurm"),
    "hydra/launcher=submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", None, "slurm"),
    "hydra/launcher=ray": ("ray", "Ray", "ray"),   # mlrun's own launcher (hydra_plugins/mlrun_ray_launcher) needs Ray
}


def missing_plugin(argv: list[str]) -> str | None:
    """One line saying what this machine lacks for the sweep `argv` asks for: a Hydra plugin or Optuna (naming the
    extra that installs it) or, for hydra/launcher=submitit_slurm, Slurm itself. None when nothing is missing."""
    for arg in argv:
        choice = arg.lstrip("+")
        module, name, extra = PLUGINS.get(choice, (None, None, None))
        if module and not _importable(module):
            fix = (f"install the [{extra}] extra: pip install 'mlrun-classic[{extra}]'" if extra
                   else "pip install hydra-ray-launcher (see docs/sweeps.md)")
            what = name or f"the Hydra plugin {module.split('.')[-1]}"
            return f"{arg}: {what} is not installed; {fix}"
        if choice == "hydra/launcher=submitit_slurm" and no_slurm():
            return f"{arg}: {no_slurm()}"
    return None


def _importable(module: str) -> bool:
    """find_spec without the exception it raises when a parent package is missing (a base install has no
    `hydra_plugins` at all: find_spec('hydra_plugins.x') raises ModuleNotFoundError instead of returning None)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):       # ModuleNotFoundError is an ImportError; ValueError: a broken __spec__
        return False


def no_slurm() -> str | None:
    """Why submitit_slurm cannot submit from here (no srun/sbatch on PATH: not a Slurm node), else None."""
    import shutil

    missing = [cmd for cmd in ("sbatch", "srun") if shutil.which(cmd) is None]
    if not missing:
        return None
    return (f"Slurm was not found on this machine ({' and '.join(missing)} not on PATH); run the sweep on a Slurm "
            f"login node, or run its jobs here with hydra/launcher=submitit_local (or joblib)")


# ---- the callback ---------------------------------------------------------------------------------------------

class SweepSummary(Callback):
    """Appends each finished multirun job to `<sweep dir>/sweep_summary.csv`; reports failures at the end."""

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        from hydra.core.utils import JobStatus
        from hydra.types import RunMode

        if config.hydra.mode != RunMode.MULTIRUN:
            return
        run_dir = Path(config.hydra.runtime.output_dir)
        error = _read_error(run_dir)
        if job_return.status == JobStatus.FAILED and not error:   # an exception the task did not turn into a line
            e = job_return._return_value
            error = f"{type(e).__name__}: {' '.join(str(e).split())}"
        overrides = [o for o in job_return.overrides or [] if not o.startswith("hydra.")]   # not the trial's own
        append_row(Path(str(config.hydra.sweep.dir)) / SUMMARY, job_row(config.hydra.job.num, overrides, run_dir,
                                                                          error))

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        launcher = str(config.hydra.launcher.get("_target_", ""))
        if launcher.endswith("SlurmLauncher") and no_slurm():   # set in a config file, not on the command line

            with contextlib.suppress(OSError):
                sweep_dir.rmdir()                                  # claimed a moment ago, still empty
            raise UserError(f"hydra/launcher=submitit_slurm: {no_slurm()}")

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from mlrun.report.console import sweep_table, terminal_width

        sweep_dir = Path(str(config.hydra.sweep.dir))
        rows = collect(sweep_dir)
        failed = [r for r in rows if r.get("status") not in DONE]    # the command reads them back: exit 1
        if not rows:
            return
        for r in failed:
            log.error("  job %s failed (%s): %s", r.get("job"), r.get("overrides", ""), r.get("error"))
        try:
            table = sweep_table(sweep_dir, terminal_width())
        except Exception as e:  # noqa: BLE001 - the table is a convenience: the summary below must still be said
            table = ""
            log.warning("could not print the sweep's table (%s: %s); mlrun report %s", type(e).__name__, e, sweep_dir)
        if table:
            print(f"\n{table}\n", flush=True)
        counts = "".join(f", {n} {s}" for s in ("pruned", "cached") if (n := sum(r.get("status") == s for r in rows)))
        log.info("sweep summary: %d jobs, %d failed%s%s: %s", len(rows), len(failed), counts,
                 " (table above, best first)" if table else "", sweep_dir / SUMMARY)
        log.info("every column and the plots: mlrun report %s", sweep_dir)


def job_row(num, overrides: list[str], run_dir: Path, error: str) -> dict:
    """A job's row of sweep_summary.csv: its status (failed, or summary.json's ok | pruned | cached) and numbers."""
    numbers = _run_numbers(run_dir)
    status = "failed" if error else numbers.pop("status", None) or "ok"
    return {"job": num, "status": status, "overrides": " ".join(overrides), **numbers, "run_dir": str(run_dir),
            "error": error}


def collect(sweep_dir: Path) -> list[dict]:
    """The summary's rows, plus a failed row for each job folder with error.txt but no row (a killed job)."""
    rows = read_summary(sweep_dir / SUMMARY)
    seen = {r["run_dir"] for r in rows}
    for err in sorted(sweep_dir.glob("*/error.txt")):
        if str(err.parent.resolve()) not in seen:
            rows.append({"job": err.parent.name, "status": "failed", "run_dir": str(err.parent.resolve()),
                         "error": _read_error(err.parent)})
    return rows


def _read_error(run_dir: Path) -> str:
    try:
        return " ".join((run_dir / "error.txt").read_text().split())
    except OSError:
        return ""


def _run_numbers(run_dir: Path) -> dict:
    """monitor, best_val, test metrics, best epoch, time from the job's summary.json ({} when it has none)."""
    try:
        s = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    out = {"monitor": s.get("monitor"), "best_val": s.get(f"best_{s.get('monitor')}")}
    out |= {k: v for k, v in s.items() if k.startswith("test_")}
    out |= {k: s.get(k) for k in ("best_epoch", "epochs_run", "total_seconds")}
    status = s.get("status")
    return out | ({"status": status} if status in DONE else {})


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on `path` across processes (flock; NFS without lock support degrades to no lock)."""
    with open(path, "a") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except (ImportError, OSError):   # Windows, or a file system without locks
            pass
        yield


def append_row(path: Path, row: dict) -> None:
    """Add `row` to the CSV at `path`, widening the header when the row brings new columns (another task's test
    metrics). Under a lock, read-modify-replace: concurrent jobs never interleave or drop rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(f".{path.name}.lock")):
        rows = read_summary(path) + [{k: _fmt(v) for k, v in row.items()}]
        rows.sort(key=lambda r: int(r["job"]) if str(r.get("job", "")).isdigit() else -1)
        fields = [*FIRST]
        for r in rows:
            fields += [k for k in r if k not in fields and k not in LAST]
        fields += LAST
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, restval="")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)


def drop_rows(path: Path, jobs: set[str]) -> None:
    """Remove the rows of `jobs` (job numbers as text) from the summary at `path`, under its lock (mlrun rerun)."""
    if not path.is_file():
        return
    with _locked(path.with_name(f".{path.name}.lock")):
        rows = read_summary(path)
        kept = [r for r in rows if str(r.get("job")) not in jobs]
        if len(kept) == len(rows):
            return
        fields = list(rows[0]) if rows else FIRST + LAST
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, restval="")
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, path)


def read_summary(path: Path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def _fmt(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return f"{v:.6g}" if isinstance(v, float) else v


# ---- resolvers for the Optuna preset ----------------------------------------------------------------------------

def _direction(*, _root_) -> str:
    """maximize | minimize for the monitored metric of the configured dataset (acc, r2 → maximize)."""
    from mlrun.metrics.tasks import HIGHER_IS_BETTER
    from mlrun.fit.build import dataset

    try:
        metric = dataset(_root_).spec.metric
    except Exception:  # noqa: BLE001 - a broken dataset fails each job with its own line; default metrics are max
        return "maximize"
    return "maximize" if HIGHER_IS_BETTER.get(metric, True) else "minimize"


def _optuna_storage(folder: str) -> str:
    """An sqlite URL for `<folder>/optuna.db` (absolute: jobs may run elsewhere), creating the folder."""
    path = Path(folder).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'optuna.db'}"


NOT_THE_SEARCH = ("hparams_search", "name", "logger", "output_root", "data_root")   # overrides a study name ignores


def _study_name(*, _root_) -> str:
    """`<preset>-<model>-<dataset>-<8 hex>` for hydra.sweeper.study_name: the hex digits hash what makes a search
    different — the preset's search space (hydra.sweeper.params) and the command line's own overrides (ranges
    and fixed values, in any order). The same command (more trials, another launcher) gives the same name and
    continues its study; another preset, range or fixed value starts a new one. Overrides that only name or place
    the runs (NOT_THE_SEARCH) and hydra.* settings (n_trials, launcher) are not part of it."""
    import hashlib

    hydra = _root_.hydra
    choices = hydra.runtime.choices
    overrides = sorted(" ".join(str(o).lstrip("+").split()) for o in hydra.overrides.task
                       if str(o).lstrip("+~").partition("=")[0].split(".")[0] not in NOT_THE_SEARCH)
    params = OmegaConf.to_container(hydra.sweeper.params, resolve=True) if hydra.sweeper.get("params") else {}
    space = json.dumps({"params": {str(k): " ".join(str(v).split()) for k, v in sorted((params or {}).items())},
                        "overrides": overrides}, sort_keys=True)
    digest = hashlib.sha1(space.encode()).hexdigest()[:8]
    return f"{choices.get('hparams_search') or 'optuna'}-{choices.model}-{choices.dataset}-{digest}"


def register_resolvers() -> None:
    _register_run_dir()
    if not OmegaConf.has_resolver("mlrun_direction"):
        OmegaConf.register_new_resolver("mlrun_direction", _direction)
    if not OmegaConf.has_resolver("mlrun_optuna_storage"):
        OmegaConf.register_new_resolver("mlrun_optuna_storage", _optuna_storage, use_cache=True)
    if not OmegaConf.has_resolver("mlrun_study_name"):
        OmegaConf.register_new_resolver("mlrun_study_name", _study_name)


# Launcher workers (joblib's loky processes, submitit jobs) unpickle this callback before they resolve
# hydra.sweep.dir: importing this module registers the resolvers there too.
register_resolvers()
