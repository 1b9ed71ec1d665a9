"""The search benchmark (experiments/search/README.md): rows (a) no pruning, (b) median, (c) ASHA of one digits MLP
search ((m): median with a 1-epoch warm-up, (s): and 2 start-up trials), and (e) a finished 12-job grid run again (the run cache).

    python experiments/search/bench.py --out /tmp/search_bench                  # every row (≈ 15 min on 2 busy cores)
    python experiments/search/bench.py --out /tmp/search_bench --rows e         # the grid row only
    python experiments/search/bench.py --out /tmp/search_bench --trials 12 --epochs 10   # a smaller search
    python experiments/search/bench.py --out /tmp/search_bench --rows acs --seeds 0,1,2  # three searches per row

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
           "s": ["hydra.sweeper.pruner=median", "hydra.sweeper.pruners.median.n_startup_trials=2",
                 "hydra.sweeper.pruners.median.n_warmup_steps=1"],           # (m) with 2 start-up trials
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


def search_row(row: str, out: Path, trials: int, epochs: int, seed: int = 0) -> dict:
    args = ["hparams_search=optuna", f"seed={seed}", "dataset=digits", "model=mlp", "device=cpu",
            f"trainer.epochs={epochs}", "trainer.patience=0", "trainer.l2=0", "trainer.threads=1",
            f"hydra.sweeper.n_trials={trials}", *SPACE, *PRUNERS[row]]
    seconds, sweep = mlrun(args, out / f"row_{row}_seed{seed}")
    rows = list(csv.DictReader(open(sweep / "sweep_summary.csv")))
    best = max((r for r in rows if r["best_val"]), key=lambda r: float(r["best_val"]))
    return {"row": row, "seed": seed, "pruner": PRUNERS[row][0].split("=")[1], "trials": len(rows),
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
    parser.add_argument("--rows", default="abmsce", help="which rows: any of a b m s c e (default abmsce; m = b with "
                                                           "n_warmup_steps=1, s = m with n_startup_trials=2)")
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (sampler and training) of the search rows")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in map(int, args.seeds.split(",")):
        for row in args.rows:
            if row == "e" and seed != int(args.seeds.split(",")[0]):
                continue                                    # the grid row does not depend on the search's seed
            result = grid_row(args.out) if row == "e" else search_row(row, args.out, args.trials, args.epochs, seed)
            print(json.dumps(result), flush=True)
            with open(args.out / "results.jsonl", "a") as f:
                f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
