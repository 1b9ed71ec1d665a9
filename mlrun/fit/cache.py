"""The run cache: a sweep job (-m) whose result-affecting config, data and mlrun version match a finished run
under the same output root is not trained again; its folder points at that run (docs/sweeps.md, The run cache).

    mlrun train -m dataset=iris optimizer.lr=0.1,0.01 seed=0,1,2     # the second time: 0 jobs trained
    mlrun train -m dataset=iris optimizer.lr=0.1,0.01 cache=false    # train them all the same

- The key: sha256 of the resolved config without the NO_EFFECT keys (paths, logging, evaluation batch size, data
  placement: results do not depend on them; mlrun.fit.resume lets the same keys change on resume), the data's
  fingerprint (every file or folder a dataset.* value names: size, mtime and a content hash of each file; a built-in
  set such as digits is identified by its config alone) and mlrun's version.
- The index: `<output_root>/run_cache.jsonl`, one line per finished run ({"key", "run": the folder relative to the
  output root}), appended by every run that ends ok (single runs too; lookups are for sweep jobs only). It is
  read as untrusted input: bounded in size, every line checked; a broken index is one line naming it.
- A cached job writes summary.json (the source's, with `status: cached` and `cached_from`) and a copy of
  metrics.csv, and returns the source's best monitored value (an Optuna trial is told it).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path

from omegaconf import DictConfig

from mlrun.config.compose import flatten
from mlrun.errors import UserError
from mlrun.version import VERSION

# keys whose value cannot change a run's results (a group name covers its keys)
NO_EFFECT = ("trainer.checkpoint_every_steps", "trainer.eval_batch_size", "trainer.data_on_device",
             "trainer.device_data_mb", "trainer.workers", "data_root", "dataset.path", "dataset.root", "logger",
             "cache")
PLACES = ("resume", "output_root", "name")        # where a run goes, not what it computes
INDEX = "run_cache.jsonl"
MAX_INDEX = 64 << 20                              # bytes: a larger index is refused (≈ 400k runs)
MAX_SUMMARY = 4 << 20                             # bytes of a source run's summary.json
HASHED = 64 << 20                                 # bytes of a file hashed whole; larger: its first and last MiB
MAX_FILES = 10_000                                # files of a dataset folder fingerprinted
KEY = re.compile(r"[0-9a-f]{64}")


def run_key(cfg: DictConfig) -> str:
    """The hex sha256 that names what `cfg` computes (module docstring)."""
    flat = flatten(cfg)
    skip = NO_EFFECT + PLACES
    settings = {k: v for k, v in flat.items() if not any(k == s or k.startswith(s + ".") for s in skip)}
    data = {k: fingerprint(str(v), str(flat.get("data_root", ""))) for k, v in flat.items()
            if k.startswith("dataset.") and isinstance(v, str) and v}
    text = json.dumps({"config": settings, "data": {k: v for k, v in data.items() if v}, "version": VERSION},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(value: str, data_root: str) -> list | None:
    """[(name, size, mtime_ns, sha1)] of the file or folder `value` names (as given, or under data_root); None when
    it names none (a plain option such as `standardize`)."""
    for candidate in (Path(value).expanduser(), Path(data_root) / value):
        if candidate.is_file():
            return [_file(str(candidate.resolve()), *_stat(candidate))]
        if candidate.is_dir():
            files = sorted(p for p in candidate.rglob("*") if p.is_file())[:MAX_FILES]
            return [[str(p.relative_to(candidate)), *_file(str(p.resolve()), *_stat(p))[1:]] for p in files]
    return None


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=4096)
def _file(path: str, size: int, mtime_ns: int) -> list:
    """[name, size, mtime_ns, sha1]; memoised per (path, size, mtime) so a sweep hashes each file once."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        if size <= HASHED:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        else:
            h.update(f.read(1 << 20))
            f.seek(size - (1 << 20))
            h.update(f.read(1 << 20))
    return [Path(path).name, size, mtime_ns, h.hexdigest()]


# ---- the index under the output root

def read_index(root: Path) -> list[dict]:
    """The index's entries, oldest first; a UserError naming the file and line when it is not an index. A last line
    without its newline is a write in progress (another job appending) and is left out."""
    path = root / INDEX
    try:
        size = path.stat().st_size
    except OSError:
        return []
    fix = "move it aside (it is rebuilt as runs finish) or run with cache=false"
    if size > MAX_INDEX:
        raise UserError(f"run cache {path}: {size} bytes, more than {MAX_INDEX} expected of an index; {fix}")
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"run cache {path}: not a readable UTF-8 index ({type(e).__name__}); {fix}") from None
    lines = text.split("\n")[:-1]                 # the part after the last newline is still being written
    entries = []
    for n, line in enumerate(lines, 1):
        problem, entry = _entry(line)
        if problem:
            raise UserError(f"run cache {path} line {n}: {problem}; {fix}")
        entries.append(entry)
    return entries


def _entry(line: str) -> tuple[str | None, dict | None]:
    try:
        entry = json.loads(line)
    except ValueError:
        return "not JSON", None
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not KEY.fullmatch(entry["key"]):
        return "expected {\"key\": <64 hex digits>, \"run\": <folder>}", None
    run = entry.get("run")
    if not isinstance(run, str) or not run or len(run) > 4096 or Path(run).is_absolute() or ".." in Path(run).parts:
        return f"run {run!r:.80} is not a folder below the output root", None
    return None, entry


def check_index(root: Path) -> None:
    """Refuse a broken index before a sweep starts (one line, exit 2) rather than in each job."""
    read_index(Path(root))


def lookup(cfg: DictConfig) -> tuple[Path, dict] | None:
    """(source folder, its summary) of the newest finished run with `cfg`'s key, or None."""
    root = Path(str(cfg.output_root))
    key = run_key(cfg)
    for entry in reversed(read_index(root)):
        if entry["key"] != key:
            continue
        summary = _summary(root / entry["run"])
        if summary is not None:
            return (root / entry["run"]).resolve(), summary
    return None


def _summary(run_dir: Path) -> dict | None:
    """A source run's summary.json when it is a usable result (ok, its best monitored value a number)."""
    path = run_dir / "summary.json"
    try:
        if run_dir.is_symlink() or path.stat().st_size > MAX_SUMMARY:
            return None
        s = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(s, dict) or s.get("status", "ok") != "ok" or not isinstance(s.get("monitor"), str):
        return None
    best = s.get(f"best_{s['monitor']}")
    ok = isinstance(best, (int, float)) and not isinstance(best, bool) and math.isfinite(best)
    return s if ok else None


def reuse(cfg: DictConfig, run_dir: Path) -> float | None:
    """A cache hit: `run_dir` gets the source's summary (status cached, cached_from) and metrics.csv; its best
    monitored value is returned. None: train (no hit, or cache=false)."""
    if not cfg.get("cache", True):
        return None
    hit = lookup(cfg)
    if hit is None:
        return None
    source, summary = hit
    if source == run_dir.resolve():
        return None
    summary = summary | {"status": "cached", "cached_from": str(source)}
    if (source / "metrics.csv").is_file():
        shutil.copyfile(source / "metrics.csv", run_dir / "metrics.csv")
    tmp = run_dir / f".summary.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / "summary.json")
    return float(summary[f"best_{summary['monitor']}"])


def remember(cfg: DictConfig, run_dir: Path) -> None:
    """Add a run that ended ok to the index (one O_APPEND write: concurrent jobs never interleave lines). A run
    outside the output root, or an index that cannot be written, is simply not cached."""
    root = Path(str(cfg.output_root)).resolve()
    try:
        run = run_dir.resolve().relative_to(root)
    except ValueError:
        return
    if _summary(run_dir) is None:              # pruned, diverged, or no summary: not a result to reuse
        return
    line = json.dumps({"key": run_key(cfg), "run": str(run)}) + "\n"
    try:
        fd = os.open(root / INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError:
        pass
