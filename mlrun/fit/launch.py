"""What `mlrun train` settles before Hydra starts, returned as one `Launch` record (no module state):

- a single run's folder is claimed here (mlrun.runtime.rundir, atomic) and handed to Hydra as hydra.run.dir, so an
  unwritable output_root is one line (not a traceback inside Hydra); under torchrun rank 0 claims the one folder
  and broadcasts it, and the other ranks join it without writing .hydra/ or train.log;
- a sweep's folder (-m) is claimed the same way and handed over as hydra.sweep.dir, so the command knows where
  the jobs' rows are when Hydra returns;
- a folder the user names (hydra.run.dir, hydra.sweep.dir) is taken only when new or empty (a run, a sweep or the
  user's own files are never written into) and held with the run's lock (<folder>/.lock) from then on;
- resume=PATH: the run folder is the checkpoint's; Hydra runs in it with hydra.output_subdir=null so the run's
  .hydra/ keeps the original config, and the config trained is the checkpoint's (mlrun.fit.resume.config).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlrun.config.compose import compose, override_key
from mlrun.fit.cache import check_index
from mlrun.errors import UserError


@dataclass
class Launch:
    argv: list[str]                          # what Hydra is started with
    run_dir: Path | None = None              # the single run's folder (None: a sweep, or placed by the user)
    sweep_dir: Path | None = None            # the sweep's folder (-m)
    rank: int = 0                            # torchrun's RANK (0 without torchrun)
    world: int = 1                           # torchrun's WORLD_SIZE
    resume: dict | None = None               # {"cfg", "payload", "run_dir", "checkpoint"} when resume= was given
    failed: list[str] = field(default_factory=list)   # run dirs of jobs that failed in this process
    claimed: bool = True                     # this command created run_dir/sweep_dir (so may remove it unused)
    result: float | None = None              # the single run's best monitored val metric, once it has trained
    lock: object = None                      # the RunLock held on a folder the user named, until the run ends

    @property
    def owner(self) -> bool:
        """This process writes the run folder (rank 0, or no DDP)."""
        return self.rank == 0

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def prepare(argv: list[str], searchpath: str | None) -> Launch:
    """The Launch for `mlrun train ARGV`: Hydra's argv (minus resume=) plus the hydra.* overrides decided here."""
    overrides = [a for a in argv if not a.startswith("-")]
    multirun = any(a in ("-m", "--multirun") for a in argv)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))   # set by torchrun
    given = {override_key(a): a.partition("=")[2] for a in overrides}
    resume_path = given.get("resume")
    if resume_path in ("", "null", "None"):              # resume=null: the same as not giving it
        argv = [a for a in argv if override_key(a) != "resume"]
        overrides = [a for a in overrides if override_key(a) != "resume"]
        resume_path = None
    if resume_path is not None:
        return _resume(argv, overrides, resume_path, multirun, rank, world, searchpath)
    if "hydra.run.dir" in given or "hydra.sweep.dir" in given:   # the user placed the run
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        if key not in given:
            return Launch(argv, rank=rank, world=world, claimed=False)
        return _placed(argv, Path(given[key].strip("'\"")), key, multirun, rank, world)
    if multirun:
        if world > 1:
            raise UserError("trainer.strategy=ddp runs one job per torchrun launch; -m sweeps are not supported")
        cfg = compose([o for o in overrides if "," not in o.partition("=")[2]], searchpath)
        _check_cache(cfg)
        if cfg.get("cache", True):                       # a broken run cache index: one line before the sweep
            check_index(Path(str(cfg.output_root)))
        sweep_dir = Path(_claim(str(cfg.output_root) + "/multirun", cfg.name, "output_root"))
        return Launch([*argv, f"hydra.sweep.dir={_quote(sweep_dir)}"], sweep_dir=sweep_dir)
    cfg = compose(overrides, searchpath)
    _check_cache(cfg)
    _check_strategy(cfg.trainer.strategy, world)
    _join(world)
    run_dir = _claim(str(cfg.output_root), cfg.name, "output_root") if rank == 0 else ""
    if world > 1:                                        # rank 0 claimed the folder: everyone runs in it
        from mlrun.runtime import distributed

        run_dir = distributed.broadcast(run_dir)
    extra = [] if rank == 0 else ["hydra.output_subdir=null", *_quiet(rank)]
    return Launch([*argv, f"hydra.run.dir={_quote(run_dir)}", *extra], Path(run_dir), rank=rank, world=world)


def _resume(argv, overrides, path, multirun, rank, world, searchpath) -> Launch:
    if multirun:
        raise UserError(f"resume={path}: continues one run; it cannot be combined with -m")
    from mlrun.fit import resume

    run_dir, ckpt, payload = resume.load(path)
    if rank == 0:
        from mlrun.runtime.rundir import probe_lock

        probe_lock(run_dir)                              # a run (or resume) still going in that folder: refuse now
    cfg = resume.config(payload, run_dir, overrides, lambda items: compose(items, searchpath))
    cfg.resume = str(ckpt)
    _check_strategy(cfg.trainer.strategy, world)
    _writable(run_dir, "resume")
    _join(world)
    rest = [a for a in argv if override_key(a) != "resume"]
    return Launch([*rest, f"hydra.run.dir={_quote(run_dir)}", "hydra.output_subdir=null", *_quiet(rank)],
                  run_dir, rank=rank, world=world, claimed=False,
                  resume={"cfg": cfg, "payload": payload, "run_dir": run_dir, "checkpoint": ckpt})


def _placed(argv: list[str], folder: Path, key: str, multirun: bool, rank: int, world: int) -> Launch:
    """A folder the user named: new or empty, else refused (mlrun.runtime.rundir.check_unused); then locked, and
    checked again under the lock, so that two commands naming the same empty folder never both take it."""
    from mlrun.runtime.rundir import RunLock, check_unused, is_unused

    where = (None, folder) if multirun else (folder, None)
    if rank != 0:                                        # rank 0 claims it
        return Launch(argv, *where, rank=rank, world=world, claimed=False)
    check_unused(folder, key, sweep=multirun)
    existed = folder.exists()
    _writable(folder, key)
    lock = RunLock(folder).acquire()
    if not is_unused(folder):                            # filled between the check and the lock
        lock.release()
        check_unused(folder, key, sweep=multirun)
    return Launch(argv, *where, rank=rank, world=world, claimed=not existed, lock=lock)


def drop_unfinished(launch: Launch | None) -> None:
    """A stop or a write failure before any checkpoint: remove the folder this command claimed (not a resumed
    run's, which holds earlier results)."""
    if launch is None or launch.resume is not None or not launch.owner or not launch.claimed:
        return
    from mlrun.runtime.rundir import discard

    logging.shutdown()                                   # train.log is closed before its folder goes
    launch.release()
    for folder in (launch.run_dir, launch.sweep_dir):
        if folder is not None and folder.is_dir() and not any(folder.rglob("checkpoints")):
            discard(folder)


def drop_if_empty(launch: Launch | None) -> None:
    """Hydra refused to start: the folder claimed for it holds nothing yet (but its lock); remove it."""
    from mlrun.runtime.rundir import discard, is_unused

    for folder in (launch.run_dir, launch.sweep_dir) if launch is not None and launch.claimed else ():
        if folder is not None and folder.is_dir() and is_unused(folder):
            launch.release()
            discard(folder)


def _claim(root: str, name: str | None, key: str) -> str:
    from mlrun.runtime.rundir import claim_run_dir

    try:
        return claim_run_dir(root, name)
    except OSError as e:
        raise UserError(f"{key}={root!r}: cannot create a run folder there ({e.strerror or type(e).__name__}); "
                        f"pick a writable folder") from None


def _join(world: int) -> None:
    if world > 1:                                        # torch is imported only when there are ranks to join
        from mlrun.runtime import distributed

        distributed.init()


def _check_strategy(strategy: str, world: int) -> None:
    if world > 1 and strategy != "ddp":
        raise UserError(f"trainer.strategy={strategy!r}: torchrun started {world} processes; add "
                        f"trainer.strategy=ddp (or run one process without torchrun)")


def _quiet(rank: int) -> list[str]:
    """Ranks other than 0 log warnings and errors only (into the same train.log, tagged by nothing else)."""
    return ["hydra.job_logging.root.level=WARNING"] if rank else []


def _writable(folder: Path, key: str) -> None:
    """Create `folder` and a file in it, or fail in one line (works for root too: /proc, read-only mounts)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mlrun-write-test"):
            pass
    except OSError as e:
        raise UserError(f"{key}={str(folder)!r}: not a writable folder ({e.strerror or type(e).__name__}); "
                        f"pick a writable folder") from None


def _quote(path) -> str:
    text = str(path)
    if "'" in text or "\\" in text:
        raise UserError(f"run folder {text!r}: quotes and backslashes are not supported in run paths")
    return f"'{text}'"


def _check_cache(cfg) -> None:
    """`cache` is true or false: YAML reads `no`, `off` or `maybe` as text, which would otherwise mean true."""
    value = cfg.get("cache", True)
    if not isinstance(value, bool):
        raise UserError(f"cache={value!r}: valid choices are true, false")
