"""Implicit-feedback ALS: mlrun against the `implicit` library (CPU) and Spark ALS implicitPrefs, on one split, all
ranked by the same code (mlrun.metrics.ranking), plus the popularity baseline; and the 10M-interaction memory run.

    export PYTHONPATH=$PWD MLRUN_DATA_DIR=/work/shared/data
    python experiments/recsys/bench.py --dataset movielens_100k                    # mlrun, implicit, spark, popularity
    python experiments/recsys/bench.py --dataset movielens_100k --peers implicit    # leave Spark out
    python experiments/recsys/bench.py --seeds 1                                    # one seed each (default 3)
    python experiments/recsys/bench.py --rss                                        # 10M interactions: peak RSS

The split: the dataset's own builder, seeded random holdout 80 % train / 20 % test (no val), ratings ≥ 4 are the
interactions (train: model.threshold=4) and the relevant test items (dataset.ranking.threshold=4). Every model
fits c = 1 + α r on the train interactions with the same factors K, λ, α and iterations:
- mlrun: `mlrun train model=mf optimizer=als model.implicit=true ...` in this process (mlrun.fit.run.train, the
  command's code); seconds = the sum of its sweep_seconds (metrics.csv), i.e. the fit alone;
Threads: --threads (default 1) for mlrun (trainer.threads) and implicit (num_threads): on a 2-core machine shared
with other jobs, torch's 2 OpenMP threads ran a sweep 8× slower than 1 thread (spinning on a busy core).
- implicit: AlternatingLeastSquares(use_cg=True, 3 CG steps, as mlrun) on the matrix 1 + α r with alpha=1 (implicit
  writes c = α r; this gives it the same c); seconds = its fit();
- Spark: pyspark.ml ALS(implicitPrefs=True, alpha=α, regParam=λ, rank=K, maxIter=iterations) on local[2];
  seconds = its fit() and collecting the factors (the JVM started before). Spark scales λ by each user's / item's
  count (ALS-WR), so its objective differs at the same λ: it runs twice, with regParam = λ and with
  regParam = λ (users + items) / (2 interactions) (the same total penalty on average); its c = 1 + α r is the paper's.
- popularity: items by train interactions.
--rss runs `mlrun train` on a generated set of 11.2M ratings (synthetic_ratings, 100,000 users × 20,000 items,
density 0.0056; 90 % train = 10.1M interactions: model.threshold=0 keeps every value ≥ 0) for 10 sweeps in a child
process and reports the child's peak RSS (getrusage), then its ranking on the 10 % test split.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mlrun.config.compose import compose
from mlrun.datasets import movielens_100k, movielens_1m
from mlrun.fit.run import train
from mlrun.metrics.ranking import split_ranking

SPLIT = {"train": 0.8, "val": 0.0, "test": 0.2}
FOLDERS = {"movielens_100k": ("ml-100k", movielens_100k), "movielens_1m": ("ml-1m", movielens_1m)}
SHOW = ("precision@10", "ndcg@10", "map@10")


def load(name: str):
    folder, build = FOLDERS[name]
    root = Path(os.environ.get("MLRUN_DATA_DIR", "data")) / folder
    return build(str(root), SPLIT, seed=0, metric="ndcg@10", ranking={"k": [10], "threshold": 4.0})


def interactions(data, threshold: float, alpha: float):
    """(users, items, confidence 1 + α r) of the train rows with r ≥ threshold, numpy."""
    x, y = data.train.x.numpy(), data.train.y.numpy().astype(np.float64)
    keep = y >= threshold
    return x[keep, 0], x[keep, 1], 1.0 + alpha * y[keep]


def factor_scores(user_f: np.ndarray, item_f: np.ndarray):
    u, v = torch.from_numpy(np.ascontiguousarray(user_f, dtype=np.float32)), torch.from_numpy(
        np.ascontiguousarray(item_f, dtype=np.float32))
    return lambda users: u[users] @ v.T


def run_mlrun(name: str, a, seed: int = 0) -> dict:
    out = Path(tempfile.mkdtemp(prefix="recsys_mlrun_"))
    cfg = compose(["model=mf", "optimizer=als", f"dataset={name}", "device=cpu", "model.implicit=true",
                   f"model.threshold={a.threshold}", f"model.k={a.factors}", f"model.reg={a.reg}",
                   f"model.alpha={a.alpha}", "dataset.metric=ndcg@10", f"trainer.epochs={a.iterations}",
                   "trainer.patience=0", "dataset.split={train: 0.8, val: 0.0, test: 0.2}",
                   f"trainer.threads={a.threads}", f"seed={seed}"])
    start = time.perf_counter()
    train(cfg, out)
    wall = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "metrics.csv") as f:
        seconds = sum(float(r["sweep_seconds"]) for r in csv.DictReader(f))
    return {"model": "mlrun", "seconds": seconds, "wall_seconds": wall,
            **{m: summary[f"test_{m}"] for m in SHOW}, "popularity": {m: summary[f"test_popularity_{m}"] for m in SHOW}}


def run_implicit(data, a, seed: int = 0) -> dict:
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix

    users, items, conf = interactions(data, a.threshold, a.alpha)
    matrix = csr_matrix((conf.astype(np.float32), (users, items)), shape=(data.spec.n_users, data.spec.n_items))
    model = AlternatingLeastSquares(factors=a.factors, regularization=a.reg, alpha=1.0, iterations=a.iterations,
                                    use_cg=True, calculate_training_loss=False, random_state=seed,
                                    num_threads=a.threads)
    start = time.perf_counter()
    model.fit(matrix, show_progress=False)
    seconds = time.perf_counter() - start
    top = split_ranking(factor_scores(model.user_factors, model.item_factors), data, "test", say=False)
    return {"model": "implicit", "seconds": seconds, **{m: top[m] for m in SHOW}}


def run_spark(data, a, seed: int = 0, scaled: bool = False) -> dict:
    """Spark ALS implicitPrefs; `scaled`: regParam = λ (users + items) / (2 interactions), Spark's per-row count
    scaling undone on average (docs/spark.md), instead of λ itself."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").config("spark.driver.memory", "2g")
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="recsys_spark_"))
    users, items, conf = interactions(data, a.threshold, a.alpha)
    ratings = (conf - 1.0) / a.alpha                                   # Spark forms c = 1 + α r itself
    frame = spark.createDataFrame([(int(u), int(i), float(r)) for u, i, r in zip(users, items, ratings)],
                                  ["user", "item", "rating"]).cache()
    frame.count()
    reg = a.reg * (data.spec.n_users + data.spec.n_items) / (2 * len(users)) if scaled else a.reg
    als = ALS(rank=a.factors, maxIter=a.iterations, regParam=reg, implicitPrefs=True, alpha=a.alpha,
              userCol="user", itemCol="item", ratingCol="rating", seed=seed, numUserBlocks=2, numItemBlocks=2)
    start = time.perf_counter()
    model = als.fit(frame)
    user_f = np.zeros((data.spec.n_users, a.factors), dtype=np.float32)
    item_f = np.zeros((data.spec.n_items, a.factors), dtype=np.float32)
    for row in model.userFactors.collect():
        user_f[row.id] = row.features
    for row in model.itemFactors.collect():
        item_f[row.id] = row.features
    seconds = time.perf_counter() - start
    spark.stop()
    top = split_ranking(factor_scores(user_f, item_f), data, "test", say=False)
    return {"model": f"spark local[2], regParam={reg:.3g}", "seconds": seconds, **{m: top[m] for m in SHOW}}


def rss(a) -> dict:
    """The 10M-interaction run in a child process: wall seconds and the child's peak RSS (MiB)."""
    out = tempfile.mkdtemp(prefix="recsys_rss_")
    command = [sys.executable, "-m", "mlrun", "train", "model=mf", "optimizer=als", "dataset=synthetic_ratings",
               "dataset.n_users=100000", "dataset.n_items=20000", "dataset.density=0.0056", "model.implicit=true",
               "model.threshold=0", f"model.k={a.factors}", f"model.reg={a.reg}", f"model.alpha={a.alpha}",
               "dataset.metric=ndcg@10", "trainer.epochs=10", "trainer.patience=0", "device=cpu",
               "dataset.split={train: 0.9, val: 0.0, test: 0.1}", f"trainer.threads={a.threads}",
               f"hydra.run.dir={out}"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(done.stderr[-2000:])
    summary = json.loads((Path(out) / "summary.json").read_text())
    with open(Path(out) / "metrics.csv") as f:
        seconds = sum(float(r["sweep_seconds"]) for r in csv.DictReader(f))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"interactions_train": summary["spec"]["n_train"], "sweeps_seconds": seconds, "wall_seconds": wall,
            "peak_rss_mib": peak, **{m: summary[f"test_{m}"] for m in SHOW}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens_100k", choices=sorted(FOLDERS))
    parser.add_argument("--peers", default="implicit,spark", help="comma-separated: implicit, spark")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--reg", type=float, default=50.0)
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--threshold", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of mlrun (torch) and implicit (Spark: local[2])")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of mlrun and implicit (mean ± std)")
    parser.add_argument("--rss", action="store_true", help="the 10M-interaction memory run instead")
    a = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    if a.rss:
        print(json.dumps(rss(a), indent=1))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    runs = {"mlrun": [run_mlrun(a.dataset, a, seed) for seed in range(a.seeds)]}
    data = load(a.dataset)
    peers = a.peers.split(",")
    if "implicit" in peers:
        runs["implicit"] = [run_implicit(data, a, seed) for seed in range(a.seeds)]
    if "spark" in peers:                                                # one seed each (its JVM is slow)
        runs["spark"], runs["spark_scaled"] = [run_spark(data, a)], [run_spark(data, a, scaled=True)]
    runs["popularity"] = [{"model": "popularity", "seconds": 0.0, **runs["mlrun"][0]["popularity"]}]
    print(f"| model | seeds | {' | '.join(SHOW)} | fit seconds |\n|---|---|---|---|---|---|")
    for name, done in runs.items():
        cells = [f"{np.mean([r[m] for r in done]):.4f} ± {np.std([r[m] for r in done]):.4f}"
                 for m in (*SHOW, "seconds")]
        print(f"| {done[0]['model']} | {len(done)} | {' | '.join(cells)} |")
    rows = [r for done in runs.values() for r in done]
    print(json.dumps(rows, indent=1))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
