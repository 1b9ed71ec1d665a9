"""optimizer=spark_als against optimizer=als on MovieLens 100k: 5-fold cross validation through `mlrun train`.

    export PYTHONPATH=$PWD MLRUN_DATA_DIR=/work/shared/data
    python experiments/spark_als/bench.py                 # the table in README.md (≈ 10 min on 2 busy cores)
    python experiments/spark_als/bench.py --only als,spark_als

Each row is one command (below, after `mlrun train`), timed from start to exit: Python and Spark start-up, data
loading, 5 fits, per-fold evaluation and checkpoints. RMSE and MAE are the mean ± std (numpy, ddof=0) over the five
test folds from the run's summary.json. Run folders go to --out (not committed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = ["model=mf", "dataset=movielens_100k", "trainer.cv_folds=5", "dataset.split.val=0"]
RUNS = {                                       # name → the optimizer's overrides
    "als": ["optimizer=als"],
    "spark_als": ["optimizer=spark_als"],
    "spark_als_no_biases": ["optimizer=spark_als", "optimizer.biases=false"],
    "spark_als_reg_0.1": ["optimizer=spark_als", "optimizer.reg_param=0.1"],
}


def load(uptime_line: str) -> str:
    """The 1-minute load average of an `uptime` line."""
    return uptime_line.rsplit("load average: ", 1)[-1].split(",")[0]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(RUNS), help="comma-separated names from RUNS")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "mlrun-spark-bench"))
    args = parser.parse_args()
    rows = []
    for name in args.only.split(","):
        run_dir = Path(args.out) / name
        command = [sys.executable, "-m", "mlrun", "train", *COMMON, *RUNS[name], f"hydra.run.dir={run_dir}"]
        before = uptime()
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"{name} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
        s = json.loads((run_dir / "summary.json").read_text())
        rows.append((name, " ".join(["mlrun train", *COMMON, *RUNS[name]]), s, wall, before, uptime()))
        print(f"{name}: RMSE {s['test_rmse_mean']:.4f} ± {s['test_rmse_std']:.4f}, {wall:.0f} s", flush=True)
    base = rows[0][3]
    print(f"\n| run | test RMSE | test MAE | wall s | × {rows[0][0]} | s per fold (first) | load before → after |\n"
          f"|---|---|---|---|---|---|---|")
    for name, _, s, wall, before, after in rows:
        print(f"| {name} | {s['test_rmse_mean']:.4f} ± {s['test_rmse_std']:.4f} | {s['test_mae_mean']:.4f} ± "
              f"{s['test_mae_std']:.4f} | {wall:.0f} | {wall / base:.2f} | {s['seconds_mean']:.1f} "
              f"({s['folds'][0]['seconds']:.1f}) | {load(before)} → {load(after)} |")
    print()
    for name, command, *_ in rows:
        print(f"- {name}: `{command}`")


if __name__ == "__main__":
    main()
