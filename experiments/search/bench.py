"""The search benchmark (experiments/search/README.md): rows (a) no pruning, (b) median, (c) ASHA of one digits MLP
search ((m): median with a 1-epoch warm-up), and (e) a finished 12-job grid run again (the run cache).

    python experiments/search/bench.py --out /tmp/search_bench                  # every row (≈ 15 min on 2 busy cores)
    python experiments/search/bench.py --out /tmp/search_bench --rows e         # the grid row only
    python experiments/search/bench.py --out /tmp/search_bench --trials 12 --epochs 10   # a smaller search

Each row is one `mlrun train -m` in a subprocess (the whole process timed), with its own output root. A search
row reads its sweep_summary.csv: the best trial by val accuracy (its test accuracy), the epochs trained over every
trial (summary.json's epochs_run), trials pruned. One JSON line per row goes to <out>/results.jsonl.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

SPACE = ["optimizer.lr=tag(log,interval(0.0003,0.3))", "model.hidden=choice([32],[64],[128],[256])",
         "model.dropout=interval(0.0,0.5)", "trainer.batch_size=choice(16,32,64,128)"]
PRUNERS = {"a": ["hydra.sweeper.pruner=none"],
           "b": ["hydra.sweeper.pruner=median", "hydra.sweeper.pruners.median.n_startup_trials=5",
                 "hydra.sweeper.pruners.median.n_warmup_steps=3"],
           "m": ["hydra.sweeper.pruner=median", "hydra.sweeper.pruners.median.n_startup_trials=5",
                 "hydra.sweeper.pruners.median.n_warmup_steps=1"],           # (b) with a shorter warm-up
           "c": ["hydra.sweeper.pruner=asha", "hydra.sweeper.pruners.asha.min_resource=2",
                 "hydra.sweeper.pruners.asha.reduction_factor=3"]}
GRID = ["dataset=iris", "model=logistic", "trainer.epochs=1", "seed=0,1,2,3,4,5,6,7,8,9,10,11"]


def mlrun(args: list[str], root: Path) -> tuple[float, Path]:
    """Run `mlrun train -m ARGS` under output_root=root; (wall seconds, the newest sweep folder)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "mlrun", "train", "-m", *args, f"output_root={root}"],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (root / "last.log").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise SystemExit(f"row failed (exit {out.returncode}): {out.stderr.strip()[-400:]}")
    sweep = max((root / "multirun").glob("*/*"), key=lambda p: p.stat().st_mtime)
    return seconds, sweep


def search_row(row: str, out: Path, trials: int, epochs: int) -> dict:
    args = ["hparams_search=optuna", "dataset=digits", "model=mlp", "device=cpu", f"trainer.epochs={epochs}",
            "trainer.patience=0", "trainer.l2=0", "trainer.threads=1", f"hydra.sweeper.n_trials={trials}", *SPACE, *PRUNERS[row]]
    seconds, sweep = mlrun(args, out / f"row_{row}")
    rows = list(csv.DictReader(open(sweep / "sweep_summary.csv")))
    best = max((r for r in rows if r["best_val"]), key=lambda r: float(r["best_val"]))
    return {"row": row, "pruner": PRUNERS[row][0].split("=")[1], "trials": len(rows),
            "pruned": sum(r["status"] == "pruned" for r in rows), "failed": sum(r["status"] == "failed" for r in rows),
            "best_val_acc": float(best["best_val"]), "test_acc_of_best": float(best["test_acc"]),
            "best_overrides": best["overrides"].split(" hparams_search")[0],
            "epochs_trained": sum(int(float(r["epochs_run"] or 0)) for r in rows), "wall_s": round(seconds, 1),
            "sweep": str(sweep)}


def grid_row(out: Path) -> dict:
    root = out / "row_e"
    first, _ = mlrun(GRID, root)
    again, sweep = mlrun(GRID, root)
    rows = list(csv.DictReader(open(sweep / "sweep_summary.csv")))
    return {"row": "e", "jobs": len(rows), "retrained": sum(r["status"] != "cached" for r in rows),
            "first_s": round(first, 2), "again_s": round(again, 2), "sweep": str(sweep)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the rows' outputs")
    parser.add_argument("--rows", default="abmce", help="which rows: any of a b m c e (default abmce; m = b with "
                                                          "n_warmup_steps=1)")
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for row in args.rows:
        result = grid_row(args.out) if row == "e" else search_row(row, args.out, args.trials, args.epochs)
        print(json.dumps(result), flush=True)
        with open(args.out / "results.jsonl", "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
