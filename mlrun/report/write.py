"""Writing a report: runs.csv, runs.md and the plots into a report folder, all or nothing.

The folder is claimed before anything is written: it is made new (`mkdir`, atomic), or it already is a report
folder: it holds only report files (a previous report, with or without the `.mlrun-report` mark) or nothing.
A folder with anything else in it (a run folder, your notes) is refused in one line, never overwritten.
While writing, the report holds an exclusive `flock` on `<out>/.mlrun-report` (which records its pid): a second
`mlrun report` writing the same folder at the same moment is refused in one line ("in use by pid N"); the kernel
drops the lock with the process, so a stale mark is no obstacle. Each file is written under a temporary name and
renamed once every file is done; on an OSError the new files and the folders made are removed and it re-raises.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import os
import re
import sys
from pathlib import Path

from mlrun.errors import UserError
from mlrun.report.plots import curves_figure, save, vs_settings_figure
from mlrun.report.table import cell, markdown, table

MARK = ".mlrun-report"      # in every report folder: says it is one; flock'd while a report is written
_NAMES = r"(runs\.csv|runs\.md|curves\.png|val_[^/]*_vs_[^/]*\.png|report\.html|curve_[^/]*\.svg)"   # report,
#   report --html, compare
REPORT_FILE = re.compile(rf"{_NAMES}|\.{_NAMES}(\.\d+)?\.part|\.mlrun-report")   # + temporaries, the mark


def default_out(paths: list[str]) -> Path:
    return Path(paths[0]) / "report" if len(paths) == 1 else Path("report")


class ReportFolder:
    """A claimed report folder (module docstring): `with ReportFolder(out) as folder:` claims and locks it,
    `folder.abandon()` undoes what the claim made (the mark, the folders) after a failed write."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir)
        self.made_dirs: list[Path] = []             # the folders this claim made, deepest first
        self.fd, self.new_mark = None, False

    def __enter__(self) -> "ReportFolder":
        parents = [p for p in self.path.parents if not p.exists()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.made_dirs = parents
        try:
            self.path.mkdir()                           # atomic: of two reports, one makes it
            self.made_dirs = [self.path, *parents]
        except FileExistsError:
            self._check_ours()
        try:
            self._lock()
        except BaseException:
            self.abandon()
            raise
        return self

    def _check_ours(self) -> None:
        """An existing `out`: a folder holding nothing but report files, else refused."""
        if not self.path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file of that name exists, not a folder")
        foreign = sorted(n for n in os.listdir(self.path) if not REPORT_FILE.fullmatch(n))
        if foreign:
            raise UserError(f"report folder {str(self.path)!r} holds files that are not an mlrun report "
                            f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); a report is only "
                            f"written to a new folder or a previous report's; write it elsewhere with --out DIR")

    def _lock(self) -> None:
        mark = self.path / MARK
        try:
            self.fd = os.open(mark, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            self.new_mark = True
        except FileExistsError:
            self.fd = os.open(mark, os.O_RDWR)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(self.fd, 32).decode("ascii", "replace").strip() or "another process"
            os.close(self.fd)
            self.fd = None
            raise UserError(f"report folder {self.path} is in use by pid {holder} (another mlrun report is "
                            f"writing it); wait for it, or write elsewhere with --out DIR") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)
        for stale in self.path.glob(".*.part"):         # left by a writer that was killed: the lock is ours now
            if REPORT_FILE.fullmatch(stale.name):
                with contextlib.suppress(OSError):
                    stale.unlink()

    def abandon(self) -> None:
        """Remove the mark (if this claim made it) and the folders this claim made, while still locked."""
        if self.new_mark:
            with contextlib.suppress(OSError):
                (self.path / MARK).unlink()
        for d in self.made_dirs:
            with contextlib.suppress(OSError):
                d.rmdir()

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)                           # drops the lock
            self.fd = None


def _plots(df, runs: list[dict], keys: list[str], out_dir: Path, temp) -> None:
    """curves.png and <metric>_vs_<setting>.png (when a sweep varied one or two settings), each to temp(path)."""
    keys = [k for k in keys if k in df.columns and df[k].nunique() > 1]   # still differing after filters
    labels = [" ".join(f"{k}={cell(r[k])}" for k in keys) or r["run"] for _, r in df.iterrows()]
    fig = curves_figure(runs, labels)
    if fig is not None:
        save(fig, temp(out_dir / "curves.png"))
    made = vs_settings_figure(df, keys)
    if made is not None:
        save(made[0], temp(out_dir / made[1]))


def write(df, runs: list[dict], keys: list[str], out_dir: Path, plots: bool = True,
          skipped: list[str] = (), html: str | None = None) -> list[Path]:
    """runs.csv, runs.md, the plots and (given its text) report.html in the claimed folder `out_dir` (module
    docstring), all or nothing; report files of an earlier report that this one does not make (an old plot) are
    removed. `skipped` runs are listed under the Markdown table."""
    temps: list[tuple[Path, Path]] = []

    def temp(path: Path) -> Path:
        temps.append((path.with_name(f".{path.name}.{os.getpid()}.part"), path))
        return temps[-1][0]

    with ReportFolder(out_dir) as folder:
        try:
            df.to_csv(temp(out_dir / "runs.csv"), index=False)
            temp(out_dir / "runs.md").write_text(markdown(df) + "".join(
                ["\nSkipped (files that cannot be used):\n\n", *(f"- {s}\n" for s in skipped)] if skipped else []))
            if html is not None:
                temp(out_dir / "report.html").write_text(html, encoding="utf-8")
            if plots and importlib.util.find_spec("matplotlib") is None:
                print("plots skipped: matplotlib is not installed; pip install 'mlrun-classic[plot]'",
                      file=sys.stderr)
                plots = False
            if plots:
                _plots(df, runs, keys, out_dir, temp)
            for part, final in temps:
                os.replace(part, final)
        except OSError:
            for part, _ in temps:
                with contextlib.suppress(OSError):
                    part.unlink()
            folder.abandon()
            raise
        written = {final.name for _, final in temps}
        for old in out_dir.iterdir():                   # an earlier report's plot this one did not make
            if old.name not in written and old.name != MARK and REPORT_FILE.fullmatch(old.name):
                with contextlib.suppress(OSError):
                    old.unlink()
    return [final for _, final in temps]


def write_files(out_dir: Path, files: dict[str, str], stale: str = r"curve_[^/]*\.svg") -> list[Path]:
    """Text files {name: content} into the claimed folder `out_dir` (module docstring), all or nothing; files of
    an earlier run matching `stale` that this one does not write are removed."""
    out_dir = Path(out_dir)
    temps = [(out_dir / f".{name}.{os.getpid()}.part", out_dir / name) for name in files]
    with ReportFolder(out_dir) as folder:
        try:
            for (part, _), content in zip(temps, files.values()):
                part.write_text(content, encoding="utf-8")
            for part, final in temps:
                os.replace(part, final)
        except OSError:
            for part, _ in temps:
                with contextlib.suppress(OSError):
                    part.unlink()
            folder.abandon()
            raise
        for old in out_dir.iterdir():
            if old.name not in files and re.fullmatch(stale, old.name):
                with contextlib.suppress(OSError):
                    old.unlink()
    return [final for _, final in temps]


def report(paths: list[str], filters: list[str] = (), sort: str | None = None, out: str | None = None,
           plots: bool = True) -> tuple:
    """Build, write and return (table, written files, skipped runs)."""
    df, runs, keys, skipped = table(paths, filters, sort)
    return df, write(df, runs, keys, Path(out) if out else default_out(paths), plots, skipped), skipped
