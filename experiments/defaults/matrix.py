"""What `mlrun train model=M dataset=D` gives with defaults only, against scikit-learn's default peer on mlrun's own
train/test split.

    MLRUN_DATA_DIR=/work/shared/data python experiments/defaults/matrix.py --results /tmp/before.jsonl
    python experiments/defaults/matrix.py --results /tmp/before.jsonl --only logistic:digits mlp:iris
    python experiments/defaults/matrix.py --results /tmp/before.jsonl --table          # print the table only
    python experiments/defaults/matrix.py --results /tmp/mlp.jsonl --only mlp:iris --seeds 5   # seeds 0..4

For every pair: the whole `python -m mlrun train model=M dataset=D` process is timed (start-up, data, training,
evaluation, run files; output under a temporary MLRUN_OUTPUT_DIR) and its test score read from summary.json. The
peer (LogisticRegression, LinearRegression, MLPClassifier/MLPRegressor, scikit-learn defaults) is fitted on the
same standardized train split mlrun builds (mlrun.fit.build.dataset on the composed config: same seed, same
stratified split, train-only scaling) and scored on its test split; its seconds are fit + predict in this process.
Each finished pair is appended to --results (JSON lines), and pairs already there are skipped, so the matrix can be
run in pieces. Peer runs that stopped at max_iter without converging are marked *.

--seeds N repeats every pair with seed=0..N-1 (mlrun's split, init and shuffles; the peer gets random_state=seed on
that seed's split) and the table shows mean ± std: a test split of 21–86 rows moves by 1–5 accuracy points per row,
so one seed of a randomly initialised model (MLP, and scikit-learn's MLPClassifier) says little on its own.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
PAIRS = {"logistic": ["iris", "wine", "breast_cancer", "digits"],
         "linear": ["diabetes", "california_housing"],
         "mlp": ["iris", "wine", "breast_cancer", "digits", "diabetes"]}
NEEDS = {"california_housing": "california_housing/housing.csv"}      # dataset → file under MLRUN_DATA_DIR


def available(dataset: str) -> bool:
    """mlrun has `dataset=<name>` (conf/dataset/<name>.yaml) and its file, if it needs one, is in MLRUN_DATA_DIR."""
    need = NEEDS.get(dataset)
    has_file = need is None or (Path(os.environ.get("MLRUN_DATA_DIR", "data")) / need).is_file()
    return has_file and (ROOT / "conf" / "dataset" / f"{dataset}.yaml").is_file()


def run_mlrun(model: str, dataset: str, seed: int = 0) -> dict:
    """Whole-process seconds and summary.json of `mlrun train model= dataset=` with defaults only (and seed=)."""
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "MLRUN_OUTPUT_DIR": out, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mlrun", "train", f"model={model}", f"dataset={dataset}",
                               f"seed={seed}"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            return {"error": (done.stdout + done.stderr).strip().splitlines()[-1:], "process_seconds": seconds}
        summary = json.loads(next(Path(out).rglob("summary.json")).read_text())
    return {"summary": summary, "process_seconds": seconds}


def mlrun_split(dataset: str, seed: int = 0):
    """mlrun's own Data for `dataset=` and `seed=`: the split and scaling the run above used."""
    from mlrun.config.compose import compose
    from mlrun.fit.build import dataset as build_dataset

    return build_dataset(compose([f"dataset={dataset}", f"seed={seed}"]))


def run_peer(model: str, data, seed: int | None = None) -> dict:
    """scikit-learn's default peer on mlrun's train split, scored on its test split by mlrun's metric.
    seed: the MLP peers' random_state (None = scikit-learn's default, unseeded); the linear peers have none."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    task = data.spec.task
    regression = task == "regression"
    peer = {"logistic": LogisticRegression, "linear": LinearRegression,
            "mlp": MLPRegressor if regression else MLPClassifier}[model]()
    if model == "mlp":
        peer.set_params(random_state=seed)
    flat = [(s.x.reshape(len(s.x), -1).numpy(), s.y.numpy()) for s in (data.train, data.test)]
    (x_train, y_train), (x_test, y_test) = [(x, y.reshape(len(y)) if y.size == len(y) else y) for x, y in flat]
    if not regression:
        y_train, y_test = y_train.astype(int), y_test.astype(int)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        peer.fit(x_train, y_train)
        predicted = peer.predict(x_test)
    seconds = time.perf_counter() - start
    score = r2_score(y_test, predicted) if regression else accuracy_score(y_test, predicted)
    return {"peer": type(peer).__name__, "peer_score": float(score), "peer_seconds": seconds,
            "peer_converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught)}


def measure(model: str, dataset: str, seed: int = 0) -> dict:
    data = mlrun_split(dataset, seed)
    metric = data.spec.metric
    row = {"model": model, "dataset": dataset, "seed": seed, "metric": metric, "n_train": len(data.train)}
    ran = run_mlrun(model, dataset, seed)
    summary = ran.get("summary", {})
    row.update(mlrun_score=summary.get(f"test_{metric}", math.nan), process_seconds=ran["process_seconds"],
               train_seconds=summary.get("total_seconds", math.nan), epochs=summary.get("epochs_run"),
               error=ran.get("error"))
    row.update(run_peer(model, data, seed))
    return row


def _spread(values: list[float], digits: int = 3) -> str:
    """'0.924' for one value, '0.924 ± 0.049' (sample std) for several."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def table(rows: list[dict]) -> str:
    """One line per (model, dataset): the row itself, or mean ± std over its seeds (columns 'seeds')."""
    lines = ["| model | dataset | metric | seeds | mlrun test | peer | peer test | mlrun s (process) "
             "| mlrun s (train) | epochs | peer s (fit) |", "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["dataset"]), []).append(r)
    for (model, dataset), rs in groups.items():
        r, bad = rs[0], [x["error"] for x in rs if x.get("error")]
        mark = "" if all(x["peer_converged"] for x in rs) else "*"
        score = _spread([x["mlrun_score"] for x in rs]) if not bad else f"error: {bad[0]}"
        ran = sorted(x["epochs"] or 0 for x in rs)
        epochs = str(ran[0]) if ran[0] == ran[-1] else f"{ran[0]}–{ran[-1]}"      # fewest–most epochs run
        lines.append(f"| {model} | {dataset} | {r['metric']} | {len(rs)} | {score} | {r['peer']} | "
                     f"{_spread([x['peer_score'] for x in rs])}{mark} | "
                     f"{_spread([x['process_seconds'] for x in rs], 1)} | "
                     f"{_spread([x['train_seconds'] for x in rs], 2)} | {epochs} | "
                     f"{_spread([x['peer_seconds'] for x in rs], 2)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="JSON lines: appended to, finished pairs skipped")
    parser.add_argument("--only", nargs="*", default=None, help="model:dataset pairs (default: all that fit)")
    parser.add_argument("--table", action="store_true", help="only print the table of --results")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per pair (table: mean ± std)")
    args = parser.parse_args()
    done = ([json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
            if args.results.is_file() else [])
    if not args.table:
        wanted = [(m, d) for m, sets in PAIRS.items() for d in sets if available(d)]
        skipped = sorted({d for sets in PAIRS.values() for d in sets if not available(d)})
        if skipped:
            print(f"skipped (no conf/dataset/<name>.yaml or no data file): {', '.join(skipped)}", file=sys.stderr)
        if args.only:
            wanted = [tuple(p.split(":", 1)) for p in args.only]
        for model, dataset, seed in [(m, d, s) for m, d in wanted for s in range(args.seeds)]:
            if any((r["model"], r["dataset"], r.get("seed", 0)) == (model, dataset, seed) for r in done):
                continue
            row = measure(model, dataset, seed)
            print(json.dumps(row), flush=True, file=sys.stderr)
            with open(args.results, "a") as f:
                f.write(json.dumps(row) + "\n")
            done.append(row)
    order = [(m, d) for m, sets in PAIRS.items() for d in sets]
    done.sort(key=lambda r: order.index((r["model"], r["dataset"])) if (r["model"], r["dataset"]) in order else 99)
    print(table(done))


if __name__ == "__main__":
    main()
