"""What a run writes besides checkpoints: metrics.csv, summary.json, console lines and the progress bar."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from mlrun.version import VERSION


class MetricsCSV:
    """metrics.csv, one row per epoch, flushed as it goes (a crashed run keeps its rows).
    The columns are the first record's keys."""

    def __init__(self, path: Path):
        self.path, self.fields = Path(path), None

    def append(self, record: dict) -> None:
        with open(self.path, "a" if self.fields else "w", newline="") as f:
            if self.fields is None:
                self.fields = list(record)
                csv.writer(f).writerow(self.fields)
            csv.writer(f).writerow([_fmt(record.get(k)) for k in self.fields])


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else v


def temporary(path: Path) -> Path:
    """Where to write `path` before renaming it into place: `.<name>.tmp<pid>` in the same folder (a rename within one
    file system is atomic). Temporaries of the same name left by processes that no longer exist (`kill -9`, power
    loss mid-write) are removed first, so they do not pile up beside the file."""
    path = Path(path)
    remove_stale_temporaries(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove `.<name>.tmp<pid>` beside `path` whose pid is not a live process on this machine; returns them.
    A temporary of a live pid is kept (its writer may still be going); only that exact name pattern is touched."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.tmp(\d+)")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:                                # no folder yet, or not readable: nothing of ours there
        return removed
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if found and not _alive(int(found.group(1))) and not entry.is_dir(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:                        # gone already (another cleaner), or not ours to remove
                pass
    return removed


def _alive(pid: int) -> bool:
    """Is `pid` a process on this machine? (signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):            # beyond any pid the kernel hands out
        return False
    except OSError:                                # PermissionError: someone else's live process
        return True
    return pid > 0                                 # pid 0 is no process (signal 0 to it reaches our own group)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value):
    """A text cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage return:
    `=HYPERLINK(...)`, `@SUM(1+1)`) gets a single quote in front, which spreadsheets show as text (OWASP's CSV
    injection advice). Plain numbers such as "-1" or "+2.5" are kept as they are; other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_json(path: Path, data: dict) -> None:
    """Atomic JSON write (temporary file + rename); NaN becomes null."""
    path = Path(path)
    tmp = temporary(path)
    try:
        tmp.write_text(json.dumps(_jsonable(data), indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def environment(device: torch.device) -> dict:
    """Versions, device name and git commit, for summary.json."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {"device": str(device), "device_name": name, "torch_version": torch.__version__,
            "mlrun_version": VERSION, "python_version": sys.version.split()[0],
            "git_commit": _git_commit(), "threads": torch.get_num_threads()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]      # mlrun/runtime/outputs.py → the source tree
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def epoch_line(record: dict, improved: bool, epochs: int | None = None, unit: str = "epoch") -> str:
    """One console line per record: what was measured (NaN = not measured, e.g. no val split, is left out), in
    the unit of the fit (`epoch 3/30`, `sweep 4/15`, `component 2`)."""
    n = record["epoch"]
    parts = [f"{unit} {n:>{len(str(epochs))}}/{epochs}" if epochs else f"{unit} {n}"]
    for key, value in record.items():
        if key in ("epoch", "epoch_seconds", "samples_per_second"):
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        parts.append(f"{key} {value:.4g}" if key != "lr" else f"lr {value:.3g}")
    parts.append(f"{record['epoch_seconds']:.2f}s {record['samples_per_second']:,.0f}/s")
    return "  ".join(parts) + ("  *" if improved else "")


def console_quiet() -> bool:
    """True when the root logger's console handler shows no INFO lines (`mlrun.train(..., quiet=True)`): then no
    progress bar either."""
    return any(type(h) is logging.StreamHandler and h.level > logging.INFO for h in logging.getLogger().handlers)


@contextlib.contextmanager
def progress(total_steps: int, enabled: bool):
    """Yields a wrapper for the step iterator: a tqdm bar over all training steps on an interactive terminal
    (log lines are printed above it), a plain `iter` otherwise (CI logs get one line per epoch)."""
    if not enabled or total_steps <= 0 or console_quiet():
        yield iter
        return
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with tqdm(total=total_steps, unit="step", dynamic_ncols=True, leave=False, file=sys.stderr) as bar, \
            logging_redirect_tqdm():
        def wrap(steps):
            for s in steps:
                yield s
                bar.update(1)

        yield wrap


def table(rows: dict) -> str:
    """Two-column text table for the final summary."""
    width = max(len(k) for k in rows)
    lines = [f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}" for k, v in rows.items()]
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([rule, *lines, rule])
