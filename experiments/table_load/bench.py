"""dataset=table load speed and memory against plain pandas.read_csv of the same file, plus one mlp epoch.

    python experiments/table_load/bench.py                  # 1,000,000 rows × 50 columns (10 categorical)
    python experiments/table_load/bench.py --rows 100000    # a quick look

Writes the CSV into a temporary folder (deleted at the end). Every measurement runs in its own subprocess so that
its peak RSS (ru_maxrss) is its own; imports happen before the clock starts. pandas and mlrun alternate, `--repeats`
times each, and the table reports the fastest of each (the machine is shared: the minimum is the least disturbed run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
N_NUMERIC, N_CATEGORICAL = 39, 10          # + the target: 50 columns


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_NUMERIC)).astype(np.float32)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(N_NUMERIC)])
    for j in range(N_CATEGORICAL):            # 3 to 30 categories each, skewed like real codes
        k = 3 + 3 * j
        codes = np.minimum(rng.geometric(2.0 / k, rows) - 1, k - 1)
        frame[f"c{j}"] = np.array([f"cat{j}_{i}" for i in range(k)])[codes]
    frame["y"] = x[:, :10].sum(1) + rng.normal(0, 0.5, rows).astype(np.float32)
    frame.to_csv(path, index=False, float_format="%.6g")


def measure(kind: str, path: str, run_dir: str) -> dict:
    """One measurement in this process: seconds and peak RSS (MB)."""
    sys.path.insert(0, str(ROOT))
    import pandas as pd                       # imports happen before the clock starts: the load alone is timed

    if kind != "pandas":                      # the baseline's RSS stays free of torch
        import mlrun.datasets._table_transform  # noqa: F401
        from mlrun.datasets.table import table

    start = time.perf_counter()
    if kind == "pandas":
        frame = pd.read_csv(path)
        shape = list(frame.shape)
    elif kind == "mlrun":
        data = table(path, target="y", split={"train": 0.8, "val": 0.1, "test": 0.1})
        shape = [len(data.train) + len(data.val) + len(data.test), data.spec.n_features]
    else:                                     # one epoch of model=mlp through mlrun.fit.run.train
        from hydra import compose, initialize_config_dir

        from mlrun.paths import config_dir
        from mlrun.runtime.rundir import register_resolvers
        from mlrun.fit.run import train

        register_resolvers()
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose(config_name="config", overrides=[
                "dataset=table", f"dataset.path={path}", "dataset.target=y", "model=mlp", "device=cpu",
                "trainer.epochs=1", "trainer.batch_size=1024"])
        train(cfg, Path(run_dir))
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
        with open(Path(run_dir) / "metrics.csv") as f:
            epoch = float(next(csv.DictReader(f))["epoch_seconds"])
        shape = [summary["test_r2"], epoch]
    seconds = time.perf_counter() - start
    return {"kind": kind, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "shape": shape}


def child(kind: str, path: Path, run_dir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", kind, "--path", str(path), "--run-dir", str(run_dir)],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--measure", choices=["pandas", "mlrun", "train"])
    parser.add_argument("--path")
    parser.add_argument("--run-dir")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.path, args.run_dir)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        start = time.perf_counter()
        make_csv(path, args.rows)
        print(f"wrote {path.stat().st_size / 1e6:.0f} MB ({args.rows:,} rows × {N_NUMERIC + N_CATEGORICAL + 1} "
              f"columns) in {time.perf_counter() - start:.1f} s; load average {os.getloadavg()}")
        results = {"pandas": [], "mlrun": []}
        for _ in range(args.repeats):
            for kind in ("pandas", "mlrun"):
                r = child(kind, path, Path(tmp) / "run")
                results[kind].append(r)
                print(f"  {kind:6s} {r['seconds']:6.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB  {r['shape']}")
        trained = child("train", path, Path(tmp) / "run")
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in results.items()}
        print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
              f"load average after: {os.getloadavg()}")
        print("| step | seconds | peak RSS (MB) |\n|---|---:|---:|")
        print(f"| pandas.read_csv (baseline) | {best['pandas']['seconds']:.2f} | {best['pandas']['peak_rss_mb']:.0f} |")
        print(f"| mlrun dataset=table (read + encode + split, float32 tensors) | {best['mlrun']['seconds']:.2f} | "
              f"{best['mlrun']['peak_rss_mb']:.0f} |")
        print(f"| mlrun train dataset=table model=mlp, 1 epoch (whole run; epoch {trained['shape'][1]:.2f} s) | "
              f"{trained['seconds']:.2f} | {trained['peak_rss_mb']:.0f} |")
        ratio = best["mlrun"]["seconds"] / best["pandas"]["seconds"]
        pairs = sorted(m["seconds"] / p["seconds"] for m, p in zip(results["mlrun"], results["pandas"]))
        print(f"\nratio mlrun / pandas.read_csv, fastest runs: {ratio:.2f}× (target ≤ 2×); run by run (each mlrun "
              f"load over the pandas read just before it): {', '.join(f'{r:.2f}' for r in pairs)}")
        print(f"inputs after encoding: {best['mlrun']['shape'][1]}; mlp test r2 after 1 epoch {trained['shape'][0]:.3f}")


if __name__ == "__main__":
    main()
