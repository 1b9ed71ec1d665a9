"""Run folders: `<root>/<YYYY-MM-DD>/<HH-MM-SS>[_<name>]`, claimed atomically so that two runs started in the
same second (two shells, parallel launcher jobs) never share one: the second gets a `-1`, `-2`, ... suffix.

A folder the user names (hydra.run.dir, hydra.sweep.dir) is taken only when it is new or empty (`check_unused`),
and then held with the run's lock from the claim on (`RunLock`), so two commands never share one either."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

from mlrun.errors import UserError


def claim_run_dir(root: str, name: str | None = None) -> str:
    check_root(root)
    check_name(name)
    now = datetime.now()
    base = Path(root) / now.strftime("%Y-%m-%d") / (now.strftime("%H-%M-%S") + (f"_{name}" if name else ""))
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        candidate = base if n == 0 else base.with_name(f"{base.name}-{n}")
        try:
            os.mkdir(candidate)          # atomic: exactly one process succeeds
            return str(candidate)
        except FileExistsError:
            continue
    raise RuntimeError(f"could not claim a run folder under {base.parent}")


def register_resolvers() -> None:
    """`${mlrun_run_dir:root,name}` in conf/config.yaml. Cached: every read in a run (and every job of a sweep,
    whose configs copy the cache) gets the same folder."""
    if not OmegaConf.has_resolver("mlrun_run_dir"):
        OmegaConf.register_new_resolver("mlrun_run_dir", claim_run_dir, use_cache=True)


# ---- names and locks

NAME = re.compile(r"[\w.+=,@-]+")       # one path component: letters, digits, _ . + = , @ - (unicode letters too)


def check_name(name) -> None:
    """`name=` is appended to the run folder's name: one path component, never `.`/`..`, no separators."""
    if name is None:
        return
    text = str(name)
    if not NAME.fullmatch(text) or text in (".", "..") or len(text) > 100:
        raise UserError(f"name={text!r}: must be one folder-name component of at most 100 characters: letters, "
                        f"digits and _ . + = , @ - (no '/', '\\\\', quotes, spaces or '..')")


def check_root(root, key: str = "output_root") -> None:
    if root is None or str(root) in ("", "None", "null"):
        raise UserError(f"{key}={root!r}: must be a folder path (default: $MLRUN_OUTPUT_DIR or outputs)")


RUN_MARKS = ("checkpoints", "metrics.csv", ".hydra")      # what a run folder holds
SWEEP_MARKS = ("sweep_summary.csv", "multirun.yaml")     # what a sweep folder holds
OURS = (".lock", ".mlrun-write-test")                    # left by a claim that did not go on: no obstacle


def check_unused(folder: Path, key: str, sweep: bool = False) -> None:
    """Refuse `folder` (named by `key`) unless it is new or empty: a run or a sweep is never overwritten, and a
    folder of the user's own files (their summary.json, train.log, or `/`) is never written into. Writes nothing."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise UserError(f"{key}={str(folder)!r}: not a folder; pick a new or empty folder")
    try:
        entries = sorted(p.name for p in folder.iterdir() if not p.name.startswith(OURS))
    except OSError as e:
        raise UserError(f"{key}={str(folder)!r}: cannot be read ({e.strerror or type(e).__name__}); pick a new "
                        f"folder") from None
    if not entries:
        return
    if any(name in entries for name in RUN_MARKS) and not sweep:
        raise UserError(f"{key}={str(folder)!r}: already holds a run; continue it with `mlrun train "
                        f"resume={folder}` or pick a new folder")
    if any(name in entries for name in SWEEP_MARKS + RUN_MARKS):
        raise UserError(f"{key}={str(folder)!r}: already holds a {'sweep' if sweep else 'sweep or run'} "
                        f"({', '.join(n for n in entries if n in SWEEP_MARKS + RUN_MARKS)}); pick a new folder "
                        f"(its results are never overwritten)")
    shown = ", ".join(entries[:3]) + (f", ... ({len(entries)} entries)" if len(entries) > 3 else "")
    raise UserError(f"{key}={str(folder)!r}: not empty and not an mlrun run (holds {shown}); pick a new or empty "
                    f"folder")


def is_unused(folder: Path) -> bool:
    """`folder` holds nothing but what a claim leaves (.lock)."""
    return not any(not p.name.startswith(OURS) for p in Path(folder).iterdir())


class RunLock:
    """An exclusive lock on a run folder for the whole run (`fcntl.flock` on <run>/.lock, which holds the pid):
    a second `mlrun train resume=<run>`, or a resume of a run still training, is refused in one line naming the
    holder. The lock goes with the process (kill -9 included): a stale .lock file is no obstacle."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.fh = None

    def acquire(self, record: bool = True) -> "RunLock":
        """Take the lock (or fail in one line); `record`: write this pid into the lock file."""
        import fcntl

        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise UserError(f"run folder {self.path.parent} is in use by pid {holder} (a run or a resume of it "
                            f"is still going); wait for it or stop it first") from None
        if record:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
        self.fh = fh
        return self

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def probe_lock(run_dir: Path) -> None:
    """Fail now, before anything starts, when another process holds `run_dir`'s lock (writes nothing)."""
    RunLock(run_dir).acquire(record=False).release()


def discard(run_dir: Path) -> None:
    """Remove a half-made run folder, and its date folder when that is left empty."""
    import shutil

    run_dir = Path(run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        run_dir.parent.rmdir()
    except OSError:                      # not empty (other runs that day), or already gone
        pass


def remove_stale_temporaries(run_dir: Path) -> None:
    """Half-written checkpoint temporaries (`.best.pt.tmp<pid>`, left by kill -9 or a full disk): the run's lock
    is held, so no live writer owns them."""
    for tmp in (Path(run_dir) / "checkpoints").glob(".*.tmp*"):
        tmp.unlink(missing_ok=True)
    for tmp in Path(run_dir).glob(".*.tmp*"):
        tmp.unlink(missing_ok=True)
