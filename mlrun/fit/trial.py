"""A search job's Optuna trial: the job reports its monitored validation metric after each epoch, and a pruner
may stop it there (hparams_search=optuna hydra.sweeper.pruner=median|asha|hyperband; docs/sweeps.md, Pruning).

    trial = open_trial(HydraConfig.get().sweeper)   # None outside a search, or with pruner=none
    ...
    if trial is not None and trial.report(record["val_acc"], record["epoch"]):   # True: pruned, stop here

The job reaches its trial through the study's storage, not through memory, so the same code serves every launcher
(in this process, joblib's workers, submitit or Ray jobs on other machines): the sweeper (mlrun.sweep.search) gives
each job three overrides, hydra.sweeper.study_name / storage / trial (the trial's id in the storage). A pruner is not
stored with the study, so the job builds the same one from hydra.sweeper.pruner and its keys (PRUNERS).

Optuna is imported only when a trial is opened: it is an optional extra ([sweep]) and costs ~0.3 s to import.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from mlrun.errors import UserError

# hydra.sweeper.pruner → (optuna.pruners class name, what it does); its keys: hydra.sweeper.pruners.<name>.*
PRUNERS = {
    "none": ("NopPruner", "every trial trains its full budget"),
    "median": ("MedianPruner", "stop when below the median of earlier trials at the same epoch"),
    "asha": ("SuccessiveHalvingPruner", "asynchronous successive halving: keep the top 1/reduction_factor per rung"),
    "hyperband": ("HyperbandPruner", "several successive-halving brackets over min_resource..max_resource epochs"),
}


def make_pruner(name: str, keys: dict | None = None):
    """The optuna pruner `name` (PRUNERS) built with `keys`; one line for an unknown name or key."""
    import optuna

    if name not in PRUNERS:
        raise UserError(f"hydra.sweeper.pruner={name!r}: valid choices are {', '.join(PRUNERS)}")
    cls = getattr(optuna.pruners, PRUNERS[name][0])
    keys = dict(keys or {})
    try:
        return cls(**keys)
    except (TypeError, ValueError) as e:
        raise UserError(f"hydra.sweeper.pruners.{name}: {' '.join(str(e).split())} (keys given: "
                        f"{', '.join(f'{k}={v}' for k, v in keys.items()) or 'none'})") from None


def storage_url(spec: str | None) -> str | None:
    """A storage spec as the jobs get it: `sqlite:///<abs path>` (any SQLAlchemy URL is kept as given) or
    `journal:<path>` (Optuna's journal file, for many processes or machines on one shared filesystem) made
    absolute; None = in memory. One line when the folder is missing or the scheme unknown."""
    if spec is None or str(spec) in ("", "null", "None"):
        return None
    spec = str(spec)
    scheme, sep, rest = spec.partition(":")
    if not sep or scheme not in ("journal", "sqlite", "postgresql", "mysql"):
        raise UserError(f"hydra.sweeper.storage={spec!r}: expected sqlite:///<path>.db, journal:<path> (a journal "
                        f"file), an RDB URL (postgresql://..., mysql://...) or null (in memory)")
    if scheme in ("journal", "sqlite"):
        if scheme == "sqlite" and not rest.startswith("///"):
            raise UserError(f"hydra.sweeper.storage={spec!r}: an sqlite URL is sqlite:///<path> (three slashes, "
                            f"four for an absolute path)")
        path = Path(rest[3:] if scheme == "sqlite" else rest).expanduser().resolve()
        if not path.parent.is_dir():
            raise UserError(f"hydra.sweeper.storage={spec!r}: the folder {path.parent} does not exist")
        if path.is_dir():
            raise UserError(f"hydra.sweeper.storage={spec!r}: {path} is a folder; name a file in it")
        return f"journal:{path}" if scheme == "journal" else f"sqlite:///{path}"
    return spec


def storage_path(url: str | None) -> Path | None:
    """The local file of a `journal:` or `sqlite:///` storage URL (storage_url); None for any other storage."""
    for prefix in ("journal:", "sqlite:///"):
        if url and url.startswith(prefix):
            return Path(url.removeprefix(prefix))
    return None


def check_storage_file(url: str | None, key: str = "hydra.sweeper.storage") -> None:
    """One line unless the storage's file is new, empty, or already Optuna's own: an existing SQLite file must hold
    Optuna's `studies` and `trials` tables (read in read-only mode), a journal file must start with an Optuna
    journal record. Optuna would otherwise add its tables to someone's database, or append to any text file."""
    import sqlite3

    path = storage_path(url)
    if path is None:
        return
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return
    if not path.is_file():
        raise UserError(f"{key}={url}: {path} is not a regular file")
    if url.startswith("journal:"):
        try:
            with open(path, "rb") as f:
                first = json.loads(f.readline(1 << 20))
            ok = isinstance(first, dict) and "op_code" in first
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise UserError(f"{key}={url}: {path} exists and is not an Optuna journal file; name a new file")
        return
    try:
        with open(path, "rb") as f:
            header = f.read(16)
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
        ok = header == b"SQLite format 3\x00" and {"studies", "trials"} <= tables
    except (OSError, sqlite3.Error):
        ok = False
    if not ok:
        raise UserError(f"{key}={url}: {path} exists and is not an Optuna SQLite database (or is damaged); "
                        f"name a new file")


def open_storage(url: str | None):
    """An optuna storage for a `storage_url`: RDB (sqlite, ...) or a journal file; None = in memory."""
    import optuna

    if url is None:
        return None
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    return url


def quiet_optuna() -> None:
    """Optuna's lines through the logging Hydra set up (plain text, the run's log): never its own handler, whose
    colours would put ANSI codes in a log file or a CI log (issue 28)."""
    import optuna

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


class Trial:
    """One running trial as its job sees it: `report(value, epoch)` → True when the pruner stops it there."""

    def __init__(self, trial):
        self.trial, self.pruned = trial, False

    def report(self, value: float, epoch: int) -> bool:
        if not math.isfinite(value):               # a NaN epoch: the run's own NaN policy decides
            return False
        self.trial.report(float(value), step=int(epoch))
        self.pruned = bool(self.trial.should_prune())   # a numpy bool from some pruners
        return self.pruned


def open_trial(sweeper) -> Trial | None:
    """The job's trial from its hydra.sweeper node (study_name, storage, trial, pruner, pruners); None when the
    sweeper named no trial, prunes nothing, or keeps the study in memory (no other process can reach it)."""
    if sweeper is None or sweeper.get("trial") is None or sweeper.get("pruner", "none") == "none":
        return None
    url = storage_url(sweeper.get("storage"))
    if url is None:
        return None
    import optuna

    quiet_optuna()
    name = str(sweeper.pruner)
    keys = (sweeper.get("pruners") or {}).get(name) or {}
    study = optuna.load_study(study_name=str(sweeper.study_name), storage=open_storage(url),
                              pruner=make_pruner(name, dict(keys)))
    return Trial(optuna.trial.Trial(study, int(sweeper.trial)))
