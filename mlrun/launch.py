"""What `mlrun train` settles before Hydra starts: the run folder, resume=, and the DDP ranks.

- A single run's folder is claimed here (mlrun.rundir, atomic) and handed to Hydra as hydra.run.dir, so an
  unwritable output_root is one line (not a traceback inside Hydra), and under torchrun rank 0 claims the one
  folder and broadcasts it: the other ranks join it without writing .hydra/ or train.log.
- resume=PATH: the run folder is the checkpoint's; Hydra runs in it with hydra.output_subdir=null so the run's
  .hydra/ keeps the original config, and the config trained is the checkpoint's (mlrun.resume.config).
- A sweep (-m) keeps Hydra's own folders; only output_root's writability is checked here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mlrun.errors import UserError

RESUME: dict | None = None       # {"cfg", "payload", "run_dir", "checkpoint"} when resume= was given
OWNER = True                     # this process writes the run folder (rank 0, or no DDP)
WORLD = 1                        # processes in the job (torchrun's WORLD_SIZE)


def prepare(argv: list[str], config_dir: Path, searchpath: str | None) -> list[str]:
    """The Hydra argv to run with: `argv` (minus resume=) plus the hydra.* overrides decided here."""
    global RESUME, OWNER, WORLD
    overrides = [a for a in argv if not a.startswith("-")]
    multirun = any(a in ("-m", "--multirun") for a in argv)
    resume_path = next((a.partition("=")[2] for a in overrides if _key(a) == "resume"), None)
    resume_path = None if resume_path in (None, "", "null", "None") else resume_path
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))   # set by torchrun
    OWNER, WORLD = rank == 0, world

    def compose(items: list[str]):
        return compose_config(items, config_dir, searchpath)

    if resume_path is not None:
        if multirun:
            raise UserError(f"resume={resume_path}: continues one run; it cannot be combined with -m")
        from mlrun import resume

        run_dir, ckpt, payload = resume.load(resume_path)
        cfg = resume.config(payload, run_dir, overrides, compose)
        cfg.resume = str(ckpt)
        _check_strategy(cfg.trainer.strategy, world)
        _writable(run_dir, "resume")
        _join(world)
        RESUME = {"cfg": cfg, "payload": payload, "run_dir": run_dir, "checkpoint": ckpt}
        rest = [a for a in argv if _key(a) != "resume"]
        return [*rest, f"hydra.run.dir={_quote(run_dir)}", "hydra.output_subdir=null", *_quiet(rank)]
    if any(_key(a) == "resume" for a in overrides):      # resume=null: the same as not giving it
        argv = [a for a in argv if _key(a) != "resume"]
        overrides = [a for a in overrides if _key(a) != "resume"]
    if any(_key(a) in ("hydra.run.dir", "hydra.sweep.dir") for a in overrides):
        return argv                                       # the user placed the run: Hydra reports problems
    cfg = compose(overrides) if not multirun or world > 1 else None
    if multirun:
        if world > 1:
            raise UserError("trainer.strategy=ddp runs one job per torchrun launch; -m sweeps are not supported")
        root = compose([o for o in overrides if "," not in o.partition("=")[2]]).output_root
        _writable(Path(str(root)) / "multirun", "output_root")
        return argv
    _check_strategy(cfg.trainer.strategy, world)
    _join(world)
    run_dir = ""
    if OWNER:
        from mlrun.rundir import claim_run_dir

        try:
            run_dir = claim_run_dir(str(cfg.output_root), cfg.name)
        except OSError as e:
            raise UserError(f"output_root={str(cfg.output_root)!r}: cannot create a run folder there "
                            f"({e.strerror or type(e).__name__}); pick a writable folder") from None
    if world > 1:                                        # rank 0 claimed the folder: everyone runs in it
        from mlrun import distributed

        run_dir = distributed.broadcast(run_dir)
    extra = [] if OWNER else ["hydra.output_subdir=null", *_quiet(rank)]
    return [*argv, f"hydra.run.dir={_quote(run_dir)}", *extra]


def compose_config(items: list[str], config_dir: Path, searchpath: str | None = None):
    """The config `mlrun train ITEMS` composes (hydra.* overrides other than the search path are dropped)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    items = [i for i in items if not i.startswith("hydra.")]
    items += [f"hydra.searchpath=[{searchpath}]"] if searchpath else []
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            return compose(config_name="config", overrides=items)
    except Exception as e:  # noqa: BLE001 - e.g. the run's original overrides no longer compose
        from mlrun.precheck import _one_line

        raise UserError(f"cannot compose {' '.join(items)}: {_one_line(e)}") from None
    finally:
        GlobalHydra.instance().clear()


def _join(world: int) -> None:
    if world > 1:                                        # torch is imported only when there are ranks to join
        from mlrun import distributed

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


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")
