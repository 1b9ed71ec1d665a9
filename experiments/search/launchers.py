"""Launchers: the warm pool (hydra/launcher=pool) against the basic launcher and joblib.

    python experiments/search/launchers.py                 # rows (d) and (f), best of 2
    python experiments/search/launchers.py --rows f --repeat 1

Every number is a whole `mlrun train -m` process, run one after the other in one invocation:

(d) uneven trials, two workers: 8 iris MLP jobs alternating 400 and 50 epochs (trainer.patience=0), run by joblib in
    batches of 2 (hydra.sweeper.max_batch_size=2: what a sweeper asking n_jobs trials at a time does today), joblib
    with all 8 at once, and the pool with all 8 at once. A job is busy from its `.hydra/overrides.yaml` (written
    when its config is composed, just before it trains) to its `summary.json`; the worker idle fraction is
    1 − Σ busy / (2 × window), over the window while jobs still waited for a worker (first start → last start: what
    a batch barrier wastes) and over the whole sweep (first start → last end: adds the tail after the last start,
    when one worker runs the last long job and the other has nothing left to take).
(f) per-job fixed cost: 1-epoch iris jobs (seed=0..N-1), N = 2 and 12; the 10 extra jobs cost (T12 − T2) of wall
    time and (C12 − C2) of CPU time, which cancels what a sweep pays once (interpreter, imports, starting workers,
    the table). C is the CPU seconds of the whole process tree (the sweep's process and every worker it waited
    for: getrusage(RUSAGE_CHILDREN)), which a loaded machine inflates far less than wall time. A 1-epoch iris job
    is all fixed cost: composing its config (twice: the sweeper checks it, the job runs it), its run folder, building,
    one epoch of 2 batches, checkpoints, the summary, its row.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(tempfile.mkdtemp(prefix="mlrun-launchers-"))     # every run's folder, removed at the end
UNEVEN = ["dataset=iris", "model=mlp", "trainer.patience=0", "device=cpu",
          "trainer.epochs=400,50,400,50,400,50,400,50"]   # ≈ 8 s and 1 s here; the basic sweeper keeps this order
ONE_EPOCH = ["dataset=iris", "model=mlp", "trainer.epochs=1", "device=cpu"]
SETUPS_D = {
    "joblib, batches of 2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.max_batch_size=2"],
    "joblib, all at once": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "pool, all at once": ["hydra/launcher=pool", "hydra.launcher.n_jobs=2"],
}
SETUPS_F = {
    "basic (in process)": [],
    "joblib n_jobs=2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "pool n_jobs=1": ["hydra/launcher=pool", "hydra.launcher.n_jobs=1"],
    "pool n_jobs=2": ["hydra/launcher=pool", "hydra.launcher.n_jobs=2"],
}


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def sweep(args: list[str], used: list | None = None) -> tuple[float, Path]:
    """Wall seconds of `python -m mlrun train -m ARGS` and its sweep folder; its CPU seconds appended to `used`."""
    root = Path(tempfile.mkdtemp(dir=TOP))
    before, start = cpu(), time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "mlrun", "train", "-m", *args], cwd=root, capture_output=True,
                       text=True, check=False, timeout=600)
    wall = time.perf_counter() - start
    if used is not None:
        used.append(cpu() - before)
    if r.returncode:
        sys.exit(f"mlrun train -m {' '.join(args)}: failed\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    (summary,) = root.glob("outputs/multirun/*/*/sweep_summary.csv")
    return wall, summary.parent


def busy_spans(sweep_dir: Path) -> list[tuple[float, float]]:
    return [((job / ".hydra" / "overrides.yaml").stat().st_mtime, (job / "summary.json").stat().st_mtime)
            for job in sweep_dir.iterdir() if (job / "summary.json").is_file()]


def idle_fraction(spans: list[tuple[float, float]], workers: int, queued_only: bool) -> float:
    """1 − busy / (workers × window). Window: first start → last end (the whole sweep), or first start → last
    start (queued_only: while a job was still waiting for a worker, which leaves out the tail that no scheduler
    can fill once the queue is empty)."""
    low = min(start for start, _ in spans)
    high = max(start for start, _ in spans) if queued_only else max(end for _, end in spans)
    busy = sum(max(0.0, min(end, high) - max(start, low)) for start, end in spans)
    return 1 - busy / (workers * (high - low))


def row_d(repeat: int) -> list[str]:
    lines = ["| launcher | wall s | idle while jobs waited | idle over the whole sweep |", "|---|---:|---:|---:|"]
    for name, extra in SETUPS_D.items():
        runs = [sweep([*UNEVEN, *extra]) for _ in range(repeat)]
        wall, folder = min(runs, key=lambda r: r[0])
        spans = busy_spans(folder)
        lines.append(f"| {name} | {wall:.2f} | {idle_fraction(spans, 2, True):.1%} "
                     f"| {idle_fraction(spans, 2, False):.1%} |")
        print(lines[-1], flush=True)
    return lines


def outside_train(sweep_dir: Path) -> str:
    """Jobs one after the other (one worker): the median over jobs 2..12 of (next job's start − this job's start
    − this job's train() seconds): a job's wall time outside mlrun.fit.run.train (composing, run folder, .hydra/,
    logging, its row, handing the result back, the next hand-out). Blank for parallel jobs."""
    starts = sorted((job / ".hydra" / "overrides.yaml").stat().st_mtime for job in sweep_dir.iterdir()
                    if (job / "summary.json").is_file())
    if len(starts) < 3:
        return ""
    by_start = sorted((job for job in sweep_dir.iterdir() if (job / "summary.json").is_file()),
                      key=lambda job: (job / ".hydra" / "overrides.yaml").stat().st_mtime)
    gaps = [b - a - json.loads((job / "summary.json").read_text())["total_seconds"]
            for a, b, job in zip(starts[1:], starts[2:], by_start[1:])]
    return f"{statistics.median(gaps):.3f}"


def row_f(repeat: int) -> list[str]:
    lines = ["| launcher | T2 s | T12 s | wall s per extra job | CPU s per extra job | wall s outside train() |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, extra in SETUPS_F.items():
        c2, c12 = [], []
        t2 = min(sweep([*ONE_EPOCH, *extra, "seed=0,1"], c2)[0] for _ in range(repeat))
        runs = [sweep([*ONE_EPOCH, *extra, "seed=" + ",".join(map(str, range(12)))], c12) for _ in range(repeat)]
        t12, folder = min(runs, key=lambda r: r[0])
        gap = outside_train(folder) if "n_jobs=2" not in name else ""
        lines.append(f"| {name} | {t2:.2f} | {t12:.2f} | {(t12 - t2) / 10:.3f} | {(min(c12) - min(c2)) / 10:.3f} "
                     f"| {gap} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="d,f", help="which rows: d, f or d,f")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is kept")
    args = parser.parse_args()
    try:
        for row in args.rows.split(","):
            print(f"\n({row})", flush=True)
            {"d": row_d, "f": row_f}[row](args.repeat)
    finally:
        shutil.rmtree(TOP, ignore_errors=True)


if __name__ == "__main__":
    main()
