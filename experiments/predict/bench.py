"""`mlrun predict` on 1,000,000 new rows of a table: rows/s against reading the same file with pandas, one run.

    python experiments/predict/bench.py                  # 1,000,000 rows × 50 columns (10 text), ~2 minutes
    python experiments/predict/bench.py --rows 100000    # a quick look

Trains `dataset=table model=mlp` (1 epoch) on a 100,000-row file of experiments/table_load's layout, then times
`mlrun.infer.predict.predict_file` on a 1,000,000-row file of the same layout (read, encode with the stored transform,
batched forward passes, CSV written) and, as the baseline measured in the same run, `pandas.read_csv` of that file.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_csv(path: Path, rows: int, seed: int) -> None:
    spec = importlib.util.spec_from_file_location("table_load", HERE.parent / "table_load" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_csv(path, rows, seed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    import pandas as pd

    from mlrun.config.compose import compose
    from mlrun.infer.predict import predict_file
    from mlrun.fit.run import train

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        make_csv(d / "train.csv", 100_000, seed=0)
        make_csv(d / "new.csv", args.rows, seed=1)
        cfg = compose(["dataset=table", f"dataset.path={d / 'train.csv'}", "dataset.target=y", "model=mlp",
                       "device=cpu", "trainer.epochs=1", "trainer.batch_size=1024"])
        train(cfg, d / "run")
        start = time.perf_counter()
        pd.read_csv(d / "new.csv")
        read = time.perf_counter() - start
        start = time.perf_counter()
        n, _ = predict_file(str(d / "run"), str(d / "new.csv"), str(d / "pred.csv"))
        seconds = time.perf_counter() - start
    print(f"load {os.getloadavg()[0]:.2f}; {n:,} rows × 50 columns (10 text)")
    print(f"pandas.read_csv (baseline)      {read:7.2f} s")
    print(f"mlrun predict (read→write CSV)  {seconds:7.2f} s  {n / seconds:12,.0f} rows/s  {seconds / read:5.2f}× read_csv")


if __name__ == "__main__":
    main()
