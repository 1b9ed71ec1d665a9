"""`mlrun rerun SWEEP_DIR [--dry-run]`: run the failed and unfinished jobs of a sweep again; keep the finished ones.

    mlrun rerun outputs/multirun/2026-12-05/10-00-00_grid
    mlrun rerun outputs/multirun/2026-12-05/10-00-00_grid --dry-run      # list them, run nothing

A job is run again when it failed (error.txt), never finished (no summary.json), or, for a grid, never started; its
own stored overrides (<job>/.hydra/overrides.yaml) are trained into its own folder (the failed folder is replaced)
and its row of sweep_summary.csv is replaced; in an Optuna search, its result is added to the study as a new trial
with the same params (a rerun trains its whole budget: no pruning). Jobs with status ok, pruned or cached stay. The
jobs run one after the other in this process, whatever launcher the sweep used. Then the sweep's table is printed
(all its jobs, best first). Exit 0 when no job is left failed, 1 when some failed again, 2 for a folder that is
not a sweep.
Full guide: docs/sweeps.md (Rerun what failed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from mlrun.api import own_logging, run
from mlrun.cli.common import fail, print_help
from mlrun.errors import UserError
from mlrun.report.console import sweep_table, terminal_width
from mlrun.sweep import summary as sweep
from mlrun.sweep.rerun import clear, plan

PROG = "mlrun rerun"


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print_help(__doc__)
        return
    dry = "--dry-run" in argv
    paths = [a for a in argv if a != "--dry-run"]
    if len(paths) != 1 or paths[0].startswith("-"):
        fail(PROG, f"expected one sweep folder (and optionally --dry-run), got {' '.join(argv)!r}")
    sweep_dir = Path(paths[0]).resolve()
    try:
        jobs, kept = plan(sweep_dir)
    except UserError as e:
        fail(PROG, str(e), e.code)
    for job in jobs:
        print(f"job {job.num} ({job.why}): {' '.join(job.overrides)}")
    if not jobs or dry:
        print(f"{len(jobs)} job(s) to run again, {kept} kept" + ("" if jobs else ": nothing to do"))
        return
    failed = [job.num for job in jobs if not _rerun(sweep_dir, job)]
    table = sweep_table(sweep_dir, terminal_width())
    if table:
        print(f"\n{table}\n")
    print(f"rerun: {len(jobs) - len(failed)} of {len(jobs)} job(s) now finished, {kept} kept; "
          f"summary: {sweep_dir / sweep.SUMMARY}")
    if failed:
        fail(PROG, f"{len(failed)} job(s) failed again: {', '.join(map(str, failed))} (see error.txt in each)", 1)


def _rerun(sweep_dir: Path, job) -> bool:
    """Train one job into its folder; its new row in the summary. True when it finished."""
    folder = clear(sweep_dir, job)
    error = ""
    try:
        with own_logging():
            run([*job.overrides, f"hydra.run.dir='{folder}'"])
    except UserError as e:                     # the one line; the folder keeps error.txt when training had begun
        error = " ".join(str(e).split())
        print(f"job {job.num} failed: {error}", file=sys.stderr)
        if folder.is_dir() and not (folder / "error.txt").exists():
            (folder / "error.txt").write_text(error + "\n")
    if not folder.is_dir():                    # removed (failed before training): keep the failure on record
        (folder / ".hydra").mkdir(parents=True)
        (folder / "error.txt").write_text(error + "\n")
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(job.overrides))   # its settings
    sweep.append_row(sweep_dir / sweep.SUMMARY, sweep.job_row(job.num, job.overrides, folder, error))
    if job.trial is not None and not error:
        from mlrun.sweep.search import tell_rerun

        print(f"job {job.num}: {tell_rerun(job.trial, folder, job.overrides)}")
    return not error
