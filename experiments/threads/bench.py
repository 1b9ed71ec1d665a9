"""Full cores in sweeps: what joblib's n_jobs=2 buys over the sequential sweep on this machine, and the ceiling.

    MLRUN_DATA_DIR=../shared/data python experiments/threads/bench.py            # both workloads, best of 2
    MLRUN_DATA_DIR=../shared/data python experiments/threads/bench.py --repeat 1 --workload mlp256

Every row is a whole `mlrun train` process (`-m` for sweeps), measured one after the other in one run:

- ceiling: one job at trainer.threads=1 and at trainer.threads=2; the median epoch seconds from their metrics.csv
  (t1, t2). Two 1-thread jobs side by side can do at most 2 epochs per t1 while the sequential sweep does one per
  t2, so on training alone n_jobs=2 is bounded by 2·t2/t1 — below 2 whenever one job already uses the second core.
- sweeps of 4 and 12 jobs (seed=0..N-1), sequential (basic launcher, torch's threads) and joblib n_jobs=2
  (trainer.threads=null: each job gets cores ÷ jobs = 1 thread), and n_jobs=2 with trainer.threads=2 forced
  (the oversubscription mlrun used to run) at 4 jobs.
- steady state: the 8 extra jobs of the 12-job sweep over the extra seconds they cost, (T12 − T4), which cancels
  the fixed costs (interpreter, imports, Hydra, the summary) that a 4-job sweep is mostly made of.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MNIST = ["dataset=mnist", "dataset.train_prefix=t10k", "dataset.test_prefix=null", "model=mlp",
         "trainer.patience=0", "device=cpu"]
WORKLOADS = {   # name → (overrides, epochs per job): the MLP, and a small one that cannot use two threads
    "mlp256": ([*MNIST, "model.hidden=[256,256]"], 4),
    "mlp64": ([*MNIST, "model.hidden=[64]"], 16),
}
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
TOP = Path(tempfile.mkdtemp(prefix="mlrun-threads-"))     # every run's folder, removed at the end


def timed(args: list[str], repeat: int) -> tuple[float, Path]:
    """Best wall seconds of `python -m mlrun train ARGS` over `repeat` runs, and the last run's output root."""
    best, root = float("inf"), None
    for _ in range(repeat):
        root = Path(tempfile.mkdtemp(dir=TOP))
        start = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "mlrun", "train", *args], cwd=root, capture_output=True, text=True,
                           check=False)
        best = min(best, time.perf_counter() - start)
        if r.returncode:
            sys.exit(f"mlrun train {' '.join(args)}: failed\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    return best, root


def epoch_seconds(root: Path) -> float:
    """Median epoch_seconds over every metrics.csv under `root` (the first epoch of each job left out: warm-up)."""
    values = [float(row["epoch_seconds"]) for f in root.rglob("metrics.csv")
              for row in list(csv.DictReader(f.open()))[1:]]
    return statistics.median(values)


def seeds(n: int) -> str:
    return "seed=" + ",".join(map(str, range(n)))


def workload(name: str, repeat: int) -> None:
    base, epochs = WORKLOADS[name]
    job = [*base, f"trainer.epochs={epochs}"]
    print(f"\n## {name}: mlrun train {' '.join(job)}")
    t = {n: epoch_seconds(timed([*job, "trainer.epochs=12", f"trainer.threads={n}"], repeat)[1]) for n in (1, 2)}
    ceiling = 2 * t[2] / t[1]
    print(f"one job, median epoch: 1 thread {t[1]:.4f} s, 2 threads {t[2]:.4f} s (2 threads = {t[1] / t[2]:.2f}× "
          f"1 thread) → ceiling of n_jobs=2 on training: 2·t2/t1 = {ceiling:.2f}×")
    rows = {}
    for n in (4, 12):
        rows[f"sequential, {n} jobs"] = timed(["-m", *job, seeds(n)], repeat)
        rows[f"joblib n_jobs=2, threads=null, {n} jobs"] = timed(["-m", *job, seeds(n), *JOBLIB], repeat)
    rows["joblib n_jobs=2, threads=2 (oversubscribed), 4 jobs"] = timed(
        ["-m", *job, seeds(4), *JOBLIB, "trainer.threads=2"], 1)
    print(f"{'sweep':<52} {'seconds':>8} {'jobs/min':>9} {'× sequential':>13} {'epoch s':>8}")
    for label, (seconds, root) in rows.items():
        n = int(label.rsplit(",", 1)[1].split()[0])
        base_s = rows[f"sequential, {n} jobs"][0]
        print(f"{label:<52} {seconds:>8.2f} {n * 60 / seconds:>9.1f} {base_s / seconds:>13.2f} "
              f"{epoch_seconds(root):>8.4f}")
    seq = rows["sequential, 12 jobs"][0] - rows["sequential, 4 jobs"][0]
    par = rows["joblib n_jobs=2, threads=null, 12 jobs"][0] - rows["joblib n_jobs=2, threads=null, 4 jobs"][0]
    print(f"steady state (8 extra jobs): sequential {8 * 60 / seq:.1f} jobs/min, joblib n_jobs=2 {8 * 60 / par:.1f} "
          f"jobs/min = {seq / par:.2f}× (ceiling {ceiling:.2f}×)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per row (the oversubscribed row: 1)")
    parser.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    args = parser.parse_args()
    if not os.environ.get("MLRUN_DATA_DIR"):
        sys.exit("set MLRUN_DATA_DIR to the folder holding mnist/t10k-images-idx3-ubyte(.gz)")
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, best of {args.repeat}")
    try:
        for name in WORKLOADS if args.workload == "all" else [args.workload]:
            workload(name, args.repeat)
    finally:
        shutil.rmtree(TOP, ignore_errors=True)


if __name__ == "__main__":
    main()
