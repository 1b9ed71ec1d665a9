"""Full cores in sweeps: jobs per minute of a 4-job sweep, in sequence vs joblib n_jobs=2 (trainer.threads=null:
each job gets cores ÷ parallel jobs), and n_jobs=2 with torch's default threads forced (trainer.threads=2), the
oversubscribed case mlrun used to run. Each row is the whole `mlrun train -m` process, measured in one run.

    MLRUN_DATA_DIR=../shared/data python experiments/threads/bench.py              # MNIST test split carved 80/10/10
    MLRUN_DATA_DIR=../shared/data python experiments/threads/bench.py --epochs 30  # longer jobs
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

SWEEP = ["dataset=mnist", "dataset.train_prefix=t10k", "dataset.test_prefix=null", "model=mlp",
         "model.hidden=[256,256]", "trainer.epochs=4", "trainer.patience=0", "device=cpu", "seed=0,1,2,3"]
ROWS = {"sequential (basic launcher)": [],
        "joblib n_jobs=2, threads=null (cores ÷ jobs)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        "joblib n_jobs=2, threads=2 (oversubscribed)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                                                        "trainer.threads=2"]}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    epochs = parser.parse_args().epochs
    SWEEP[SWEEP.index("trainer.epochs=4")] = f"trainer.epochs={epochs}"
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; 4 jobs of: mlrun train -m {' '.join(SWEEP)}")
    results = {}
    for name, extra in ROWS.items():
        with tempfile.TemporaryDirectory() as d:
            start = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "mlrun", "train", "-m", *SWEEP, *extra], cwd=d,
                               capture_output=True, text=True)
            seconds = time.perf_counter() - start
        if r.returncode:
            sys.exit(f"{name}: failed\n{r.stderr[-2000:]}")
        results[name] = seconds
    base = results["sequential (basic launcher)"]
    print(f"{'launcher':<46} {'seconds':>8} {'jobs/min':>9} {'× sequential':>13}")
    for name, seconds in results.items():
        print(f"{name:<46} {seconds:>8.1f} {4 * 60 / seconds:>9.2f} {base / seconds:>13.2f}")


if __name__ == "__main__":
    main()
