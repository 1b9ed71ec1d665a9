"""Launchers: the warm pool (hydra/launcher=pool) against the basic launcher and joblib.

    python experiments/search/launchers.py                 # rows (d) and (f), best of 2
    python experiments/search/launchers.py --rows f --repeat 1

Every number is a whole `mlrun train -m` process, run one after the other in one invocation:

(d) uneven trials, two workers: 8 iris MLP jobs alternating 40 and 5 epochs (trainer.patience=0), run by joblib in
    batches of 2 (hydra.sweeper.max_batch_size=2: what a sweeper asking n_jobs trials at a time does today), joblib
    with all 8 at once, and the pool with all 8 at once. A job is busy from its `.hydra/overrides.yaml` (written
    when its config is composed, just before it trains) to its `summary.json`; the worker idle fraction is
    1 − Σ busy / (2 × (last end − first start)).
(f) per-job fixed cost: 1-epoch iris jobs (seed=0..N-1), N = 2 and 12; the 10 extra jobs cost (T12 − T2) of wall
    time, which cancels what a sweep pays once (interpreter, imports, starting workers, the table). Per job:
    (T12 − T2) / 10 × n_jobs − the job's own fit seconds (summary.json's total_seconds): what a worker spends on a
    job besides training it (composing, run folder, building, checkpoints, summary; joblib: worker start-up).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(tempfile.mkdtemp(prefix="mlrun-launchers-"))     # every run's folder, removed at the end
UNEVEN = ["dataset=iris", "model=mlp", "model.solver=gradient", "trainer.patience=0", "device=cpu",
          "trainer.epochs=40,5,40,5,40,5,40,5"]           # the basic sweeper keeps this order: long, short, ...
ONE_EPOCH = ["dataset=iris", "model=mlp", "trainer.epochs=1", "device=cpu"]
SETUPS_D = {
    "joblib, batches of 2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.max_batch_size=2"],
    "joblib, all at once": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "pool, all at once": ["hydra/launcher=pool", "hydra.launcher.n_jobs=2"],
}
SETUPS_F = {   # name → (overrides, parallel jobs)
    "basic (in process)": ([], 1),
    "joblib n_jobs=2": (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], 2),
    "pool n_jobs=1": (["hydra/launcher=pool", "hydra.launcher.n_jobs=1"], 1),
    "pool n_jobs=2": (["hydra/launcher=pool", "hydra.launcher.n_jobs=2"], 2),
}


def sweep(args: list[str]) -> tuple[float, Path]:
    """Wall seconds of `python -m mlrun train -m ARGS` and its sweep folder."""
    root = Path(tempfile.mkdtemp(dir=TOP))
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "mlrun", "train", "-m", *args], cwd=root, capture_output=True,
                       text=True, check=False, timeout=600)
    wall = time.perf_counter() - start
    if r.returncode:
        sys.exit(f"mlrun train -m {' '.join(args)}: failed\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    (summary,) = root.glob("outputs/multirun/*/*/sweep_summary.csv")
    return wall, summary.parent


def busy_spans(sweep_dir: Path) -> list[tuple[float, float]]:
    return [((job / ".hydra" / "overrides.yaml").stat().st_mtime, (job / "summary.json").stat().st_mtime)
            for job in sweep_dir.iterdir() if (job / "summary.json").is_file()]


def idle_fraction(spans: list[tuple[float, float]], workers: int) -> float:
    span = max(end for _, end in spans) - min(start for start, _ in spans)
    return 1 - sum(end - start for start, end in spans) / (workers * span)


def fit_seconds(sweep_dir: Path) -> float:
    return statistics.mean(json.loads(p.read_text())["total_seconds"] for p in sweep_dir.glob("*/summary.json"))


def row_d(repeat: int) -> list[str]:
    lines = ["| launcher | wall s | worker idle fraction |", "|---|---:|---:|"]
    for name, extra in SETUPS_D.items():
        runs = [sweep([*UNEVEN, *extra]) for _ in range(repeat)]
        wall, folder = min(runs, key=lambda r: r[0])
        lines.append(f"| {name} | {wall:.2f} | {idle_fraction(busy_spans(folder), 2):.1%} |")
        print(lines[-1], flush=True)
    return lines


def row_f(repeat: int) -> list[str]:
    lines = ["| launcher | T2 s | T12 s | wall s per extra job | fit s per job | fixed cost per job s |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, (extra, jobs) in SETUPS_F.items():
        t2 = min(sweep([*ONE_EPOCH, *extra, "seed=0,1"])[0] for _ in range(repeat))
        runs = [sweep([*ONE_EPOCH, *extra, "seed=" + ",".join(map(str, range(12)))]) for _ in range(repeat)]
        t12, folder = min(runs, key=lambda r: r[0])
        per_job = (t12 - t2) / 10
        fit = fit_seconds(folder)
        lines.append(f"| {name} | {t2:.2f} | {t12:.2f} | {per_job:.3f} | {fit:.3f} | {per_job * jobs - fit:.3f} |")
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
