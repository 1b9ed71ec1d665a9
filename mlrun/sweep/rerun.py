"""Which jobs of a sweep folder to run again (`mlrun rerun SWEEP_DIR`, mlrun.cli.rerun), and its summary merged.

    mlrun rerun outputs/multirun/2026-12-05/10-00-00_grid     # the failed and unfinished jobs; the others stay

A job is kept when its folder's summary.json says ok, pruned or cached. It is run again when it failed (error.txt),
never finished (a folder without summary.json: killed, a machine lost), or, for a grid (Hydra's basic sweeper,
read from multirun.yaml), never started (no folder). Each is run with its own stored overrides
(`<job>/.hydra/overrides.yaml`; for a job that never started, its place in the grid) into its own folder, the old
folder removed first; its row in sweep_summary.csv is replaced. In an Optuna search's folder each job also names its
trial (`hydra.sweeper.study_name / storage / trial` in `<job>/.hydra/hydra.yaml`): the rerun's result is told to that
study (mlrun.sweep.search.tell_rerun). A search's missing trials are not jobs of a plan: run the search command again
to continue its study.

The folder's files are read as untrusted input: sizes bounded, overrides must be a YAML list of plain strings.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlrun.errors import UserError
from mlrun.sweep.summary import DONE, SUMMARY

MAX_YAML = 1 << 20                 # bytes of multirun.yaml or a job's overrides.yaml
MAX_JOBS = 10_000                  # jobs of a grid rebuilt from multirun.yaml
# keys a stored override may not set: each would train or write outside this sweep folder (another run's
# checkpoints, another output root and its run cache, Hydra's own settings)
ELSEWHERE = ("resume", "output_root", "hydra", "checkpoint")


@dataclass
class Job:
    num: int
    overrides: list[str]
    why: str                       # failed | unfinished | not started
    trial: dict | None = None      # a search job's study_name, storage, trial (the storage's trial id); else None

    @property
    def folder_name(self) -> str:
        return str(self.num)


def plan(sweep_dir: Path) -> tuple[list[Job], int]:
    """(jobs to run again, jobs kept) of the sweep folder; one line when it is not a sweep folder."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise UserError(f"{sweep_dir}: no such folder; pass a sweep folder (outputs/multirun/<date>/<time>)")
    if not ((sweep_dir / "multirun.yaml").is_file() or (sweep_dir / SUMMARY).is_file()):
        raise UserError(f"{sweep_dir}: not a sweep folder (no multirun.yaml or {SUMMARY} in it); pass the folder "
                        f"`mlrun train -m` printed at its end")
    folders = {int(p.name): p for p in sweep_dir.iterdir() if p.name.isdigit() and p.is_dir() and not p.is_symlink()}
    grid = _grid(sweep_dir / "multirun.yaml")
    jobs, kept = [], 0
    for num, folder in sorted(folders.items()):
        status = _status(folder)
        if status in DONE:
            kept += 1
            continue
        stored = folder / ".hydra" / "overrides.yaml"
        if not stored.is_file() and num < len(grid):  # killed before Hydra wrote it: its place in the grid
            jobs.append(Job(num, grid[num], status))
            continue
        jobs.append(Job(num, _overrides(stored), status, _trial(folder / ".hydra" / "hydra.yaml")))
    for num, overrides in enumerate(grid):
        if num not in folders:
            jobs.append(Job(num, overrides, "not started"))
    return sorted(jobs, key=lambda j: j.num), kept


def _status(folder: Path) -> str:
    if (folder / "error.txt").is_file():
        return "failed"
    try:
        s = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unfinished"
    status = s.get("status", "ok") if isinstance(s, dict) else None
    return status if status in DONE else "unfinished"


def _read_yaml(path: Path):
    import yaml

    try:
        if path.stat().st_size > MAX_YAML:
            raise UserError(f"{path}: larger than {MAX_YAML} bytes; not a Hydra record")
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise UserError(f"{path}: not readable as YAML ({type(e).__name__}); rerun cannot tell this job's "
                        f"overrides") from None


def _overrides(path: Path) -> list[str]:
    data = _read_yaml(path)
    if not isinstance(data, list) or not all(isinstance(o, str) and "=" in o for o in data):
        raise UserError(f"{path}: expected a YAML list of key=value overrides")
    for o in data:
        if "${" in o:                  # a stored file names no resolver: its overrides are plain values
            raise UserError(f"{path}: holds an interpolation ({o!r}); refused")
    return _refuse_elsewhere(path, data)


def _refuse_elsewhere(path: Path, overrides: list[str]) -> list[str]:
    """One line for an override that would train or write outside the sweep folder (ELSEWHERE); `output_root` is
    kept when the sweep folder lies inside it (a sweep run with output_root=...)."""
    sweep_dir = path.parent if path.name == "multirun.yaml" else path.parents[2]
    for o in overrides:
        key, _, value = o.partition("=")
        key = key.lstrip("+~").split("@", 1)[0]
        if key == "output_root" and sweep_dir.resolve().is_relative_to(Path(value.strip("'\"")).resolve()):
            continue
        if key.split(".", 1)[0].split("/", 1)[0] in ELSEWHERE:
            raise UserError(f"{path}: the override {o!r} would train or write outside this sweep folder; refused "
                            f"(a sweep's stored overrides never set {', '.join(ELSEWHERE)})")
    return overrides


def _trial(path: Path) -> dict | None:
    """The search trial a job reported to, from the sweeper's own overrides in its hydra.yaml; None for a grid job."""
    if not path.is_file():
        return None
    data = _read_yaml(path)
    hydra = data.get("hydra") if isinstance(data, dict) else None
    recorded = hydra.get("overrides") if isinstance(hydra, dict) else None
    given = recorded.get("hydra") if isinstance(recorded, dict) else None
    if not isinstance(given, list):
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    keys = {}
    for o in given:
        key = str(o).partition("=")[0]
        if key in ("hydra.sweeper.study_name", "hydra.sweeper.storage", "hydra.sweeper.trial"):
            try:
                keys[key.rsplit(".", 1)[1]] = OverridesParser.create().parse_override(str(o)).value()
            except HydraException:
                raise UserError(f"{path}: cannot read the override {o!r}") from None
    if len(keys) < 3:                  # in-memory study (no storage) or not a search: nothing to tell
        return None
    if isinstance(keys["trial"], bool) or not isinstance(keys["trial"], int) or keys["trial"] < 0:
        raise UserError(f"{path}: hydra.sweeper.trial={keys['trial']!r} is not a trial id")
    return {k: (v if k == "trial" else str(v)) for k, v in keys.items()}


def _grid(multirun: Path) -> list[list[str]]:
    """Every job of a basic-sweeper grid, in Hydra's order, from multirun.yaml; [] for other sweepers or no file."""
    if not multirun.is_file():
        return []
    data = _read_yaml(multirun)
    hydra = data.get("hydra") if isinstance(data, dict) else None
    sweeper = hydra.get("sweeper") if isinstance(hydra, dict) else None
    if not isinstance(sweeper, dict) or "BasicSweeper" not in str(sweeper.get("_target_", "")):
        return []
    recorded = hydra.get("overrides")
    task = recorded.get("task") if isinstance(recorded, dict) else None
    params = sweeper.get("params") or {}                   # the basic sweeper's own params come first
    if not isinstance(task, list) or not all(isinstance(o, str) for o in task) or any("${" in o for o in task) \
            or not isinstance(params, dict):
        raise UserError(f"{multirun}: hydra.overrides.task is not a list of plain overrides (or "
                        f"hydra.sweeper.params not a mapping)")
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()] + task)
        sizes = [len(list(o.sweep_iterator())) if o.is_sweep_override() else 1 for o in parsed]
        if math.prod(sizes) > MAX_JOBS:
            raise UserError(f"{multirun}: its grid has {math.prod(sizes)} jobs (more than {MAX_JOBS}); refused")
        grid = [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except HydraException as e:
        raise UserError(f"{multirun}: hydra.overrides.task cannot be read ({' '.join(str(e).split())[:200]})") \
            from None
    return [_refuse_elsewhere(multirun, job) for job in grid]


def clear(sweep_dir: Path, job: Job) -> Path:
    """Remove the job's old folder (inside the sweep folder, not a link) and its summary row; its folder path."""
    from mlrun.sweep.summary import drop_rows

    folder = Path(sweep_dir) / job.folder_name
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    drop_rows(Path(sweep_dir) / SUMMARY, {str(job.num)})
    return folder
