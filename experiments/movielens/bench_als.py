"""Time and score MF + ALS on MovieLens 100k: 5-fold CV (as Surprise's cross_validate) and a K × λ sweep.

    export PYTHONPATH=$PWD MLRUN_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1
    python experiments/movielens/bench_als.py cv --k 5 --reg 10 --sweeps 15          # 5 folds, test RMSE, seconds
    python experiments/movielens/bench_als.py sweep --ks 2,5,10,20 --regs 5,8,10,12,15,20   # val RMSE, 80/10/10

Timed like surprise_svd.py: per fold, fitting (all sweeps) and predicting the test fold; parsing u.data once is
not timed. Uses the same code as `mlrun train model=mf optimizer=als` (mlrun.solvers.als), without the run's
per-sweep evaluation, checkpoints and logs.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from mlrun.datasets.ratings.data import ratings_data
from mlrun.datasets.ratings.read import read_ratings
from mlrun.models.mf import MF
from mlrun.solvers.als import DTYPES, PosteriorMean, Ratings, als_sweep


def fit_and_score(data, k, reg, sweeps, update, dtype, noise=0.0, burn_in=5, seed=0):
    """(test RMSE, val RMSE, seconds) of one ALS fit (Bayesian ALS averaged after burn_in sweeps when noise > 0)."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = MF(data.spec, k=k, reg=reg)
    users, items = data.train.x[:, 0], data.train.x[:, 1]
    train = Ratings(users, items, data.train.y.to(DTYPES[dtype]), model.n_users, model.n_items)
    params, average = model.params(DTYPES[dtype]), PosteriorMean()
    for sweep in range(1, sweeps + 1):
        sampling = noise > 0 and sweep > burn_in
        params, _ = als_sweep(params, train, reg, update, noise if sampling else 0.0,
                              average if sampling else None)
    model.set_params(*(average.params() if noise > 0 else params))
    model.eval()
    with torch.no_grad():
        test = float((model(data.test.x) - data.test.y).pow(2).mean().sqrt())
        seconds = time.perf_counter() - start
        val = float((model(data.val.x) - data.val.y).pow(2).mean().sqrt()) if len(data.val) else float("nan")
    return test, val, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["cv", "sweep"])
    parser.add_argument("--root", default=os.path.join(os.environ.get("MLRUN_DATA_DIR", "data"), "ml-100k"))
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--reg", type=float, default=10.0)
    parser.add_argument("--ks", default="2,5,10,20")
    parser.add_argument("--regs", default="5,8,10,12,15,20")
    parser.add_argument("--sweeps", type=int, default=15)
    parser.add_argument("--update", default="seed", choices=["seed", "joint"])
    parser.add_argument("--dtype", default="float64", choices=list(DTYPES))
    parser.add_argument("--noise", type=float, default=0.0, help="σ > 0: Bayesian ALS (optimizer.noise)")
    parser.add_argument("--burn-in", type=int, default=5)
    args = parser.parse_args()
    users, items, ratings = read_ratings(Path(args.root) / "u.data", "\t", [0, 1, 2], header=False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.update} update, {args.dtype}")
    if args.mode == "cv":
        rmses, total, cpu = [], 0.0, time.process_time()
        for fold in range(5):
            data = ratings_data(users, items, ratings, name="movielens_100k", split={"train": 1, "val": 0, "test": 0},
                                folds=5, fold=fold, seed=0)
            rmse, _, seconds = fit_and_score(data, args.k, args.reg, args.sweeps, args.update, args.dtype,
                                          args.noise, args.burn_in)
            rmses.append(rmse)
            total += seconds
        print(f"als k={args.k} reg={args.reg:g} sweeps={args.sweeps} noise={args.noise:g} burn_in={args.burn_in}: folds {' '.join(f'{r:.4f}' for r in rmses)}  "
              f"mean {np.mean(rmses):.4f} ± {np.std(rmses):.4f}  {total:.2f} s for 5 folds "
              f"(process CPU incl. splitting {time.process_time() - cpu:.2f} s)")
        return
    data = ratings_data(users, items, ratings, name="movielens_100k", split={"train": 0.8, "val": 0.1, "test": 0.1},
                        seed=0)
    print("| K | λ | val RMSE | test RMSE | seconds |\n|---|---|---|---|---|")
    for k in (int(v) for v in args.ks.split(",")):
        for reg in (float(v) for v in args.regs.split(",")):
            test, val, seconds = fit_and_score(data, k, reg, args.sweeps, args.update, args.dtype, args.noise,
                                               args.burn_in)
            print(f"| {k} | {reg:g} | {val:.4f} | {test:.4f} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
