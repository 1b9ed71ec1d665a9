"""Ratings at scale: `mlrun train model=mf optimizer=als` end to end on 1M, 10M and 25M-row CSV files, and Spark
MLlib ALS (local[2]) on the same files in the same run when pyspark is installed.

    PYTHONPATH=$PWD python experiments/scale/bench.py                         # 1M, 10M, 25M; writes results.*
    PYTHONPATH=$PWD python experiments/scale/bench.py --rows 100000 --out /tmp/scale-try   # a quick try

Per size: a MovieLens-shaped file (make_ratings.py) in a temporary folder under /tmp, deleted afterwards; then
  - load: a fresh process times `mlrun.datasets.ratings_csv(path)` (read + split + id maps), the dataset build
    the run does;
  - mlrun: `python -m mlrun train device=cpu model=mf optimizer=als dataset=ratings_csv dataset.path=FILE
    model.k=10 trainer.epochs=5`: whole-process wall seconds, peak RSS (the process's own ru_maxrss from wait4),
    each sweep's seconds (metrics.csv), test RMSE (summary.json);
  - spark: spark_als.py (rank 10, 5 iterations, read + fit + test RMSE): whole-process wall seconds, peak RSS of
    the process tree (Python driver + JVM, sampled every 0.2 s).
Threads are left at their defaults (torch: one per core); the mlrun run is repeated with OMP_NUM_THREADS=1
(on a loaded machine two OpenMP threads can lose more to waiting for each other than they gain). `uptime`'s
load averages are recorded before and after each size.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__().replace("'", "")


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants, from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry.name))
            except (OSError, ValueError):
                continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int((Path("/proc") / str(p) / "statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError):
            pass
        todo.extend(parents.get(p, []))
    return total


def measured(cmd: list[str], cwd: Path, log: Path, env: dict | None = None) -> dict:
    """Run `cmd`; wall seconds, its own peak RSS (wait4 ru_maxrss) and the sampled peak RSS of its process tree."""
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})})
        peak_tree = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_tree = max(peak_tree, tree_rss(proc.pid))
            time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": time.perf_counter() - started, "rc": proc.returncode,
            "peak_rss_mb": usage.ru_maxrss / 1024, "peak_tree_rss_mb": peak_tree / 2**20}


def bench_size(n_rows: int, tmp: Path, spark: bool) -> dict:
    sys.path.insert(0, str(HERE))
    from make_ratings import write_csv

    path = tmp / f"ratings_{n_rows}.csv"
    t = time.perf_counter()
    write_csv(str(path), n_rows)
    row = {"rows": n_rows, "file_mb": path.stat().st_size / 2**20, "write_s": time.perf_counter() - t,
           "load_before": load_average()}
    code = ("import json, time; from mlrun.datasets import ratings_csv; t = time.perf_counter(); "
            f"d = ratings_csv({str(path)!r}, {{'train': 0.8, 'val': 0.1, 'test': 0.1}}); "
            "print(json.dumps({'load_s': time.perf_counter() - t, 'n_users': d.spec.n_users, "
            "'n_items': d.spec.n_items}))")
    load = measured([sys.executable, "-c", code], tmp, tmp / "load.log")
    row |= json.loads((tmp / "load.log").read_text().strip().splitlines()[-1]) | {"load_peak_rss_mb":
                                                                                  load["peak_rss_mb"]}
    for tag, env in (("mlrun", None), ("mlrun_1thread", {"OMP_NUM_THREADS": "1"})):
        run_dir = tmp / f"run_{tag}"
        run = measured([sys.executable, "-m", "mlrun", "train", "device=cpu", "model=mf", "optimizer=als",
                        "dataset=ratings_csv", f"dataset.path={path}", "model.k=10", "trainer.epochs=5",
                        f"hydra.run.dir={run_dir}"], tmp, tmp / f"{tag}.log", env)
        if run["rc"] != 0:
            raise SystemExit(f"mlrun failed on {n_rows} rows: {(tmp / f'{tag}.log').read_text()[-2000:]}")
        with open(run_dir / "metrics.csv") as f:
            epochs = list(csv.DictReader(f))
        summary = json.loads((run_dir / "summary.json").read_text())
        sweeps = [float(e["sweep_seconds"]) for e in epochs]
        row |= {f"{tag}_wall_s": run["wall_s"], f"{tag}_peak_rss_mb": run["peak_rss_mb"],
                f"{tag}_sweeps_s": sum(sweeps), f"{tag}_sweep_s": " ".join(f"{s:.2f}" for s in sweeps),
                f"{tag}_eval_s": sum(float(e["eval_seconds"]) for e in epochs),
                f"{tag}_test_rmse": summary["test_rmse"]}
    if spark:
        res = measured([sys.executable, str(HERE / "spark_als.py"), str(path)], tmp, tmp / "spark.log")
        lines = [ln for ln in (tmp / "spark.log").read_text().splitlines() if ln.startswith("{")]
        if res["rc"] != 0 or not lines:
            row["spark_error"] = (tmp / "spark.log").read_text()[-500:].replace("\n", " ")
        else:
            out = json.loads(lines[-1])
            row |= {"spark_wall_s": res["wall_s"], "spark_peak_tree_rss_mb": res["peak_tree_rss_mb"],
                    "spark_load_s": out["load_s"], "spark_fit_s": out["fit_s"], "spark_eval_s": out["eval_s"],
                    "spark_test_rmse": out["test_rmse"]}
            row["speedup_vs_spark"] = row["spark_wall_s"] / row["mlrun_wall_s"]
    row["load_after"] = load_average()
    return row


def plot(rows: list[dict], file: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["rows"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.loglog(n, [r["mlrun_wall_s"] for r in rows], "o-", label="mlrun ALS, whole process")
    ax.loglog(n, [r["mlrun_1thread_wall_s"] for r in rows], "o--", label="mlrun ALS, whole process, 1 thread")
    ax.loglog(n, [r["mlrun_sweeps_s"] for r in rows], "s--", label="mlrun ALS, 5 sweeps")
    ax.loglog(n, [r["load_s"] for r in rows], "^:", label="mlrun, load (read + split + ids)")
    if all("spark_wall_s" in r for r in rows):
        ax.loglog(n, [r["spark_wall_s"] for r in rows], "D-", label="Spark MLlib ALS local[2], whole process")
    ref = rows[-1]["mlrun_wall_s"]                 # a line of slope 1 through the largest mlrun run
    ax.loglog(n, [ref * x / n[-1] for x in n], color="grey", lw=0.8, label="linear growth")
    ax.set_xlabel("ratings (rows)")
    ax.set_ylabel("seconds")
    ax.set_title("MF, K=10, 5 ALS sweeps (2-core VM)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(file, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="1000000,10000000,25000000", help="comma-separated file sizes")
    parser.add_argument("--out", default=str(HERE), help="folder for results.csv, results.json and scale.png")
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    try:
        import pyspark  # noqa: F401
        spark = not args.no_spark
    except ImportError:
        spark = False
        print("pyspark is not installed: no Spark baseline", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in (int(float(x)) for x in args.rows.split(",")):
        tmp = Path(tempfile.mkdtemp(dir="/tmp", prefix="mlrun-scale-"))
        try:
            rows.append(bench_size(n, tmp, spark))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps(rows[-1]), flush=True)
        (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    with open(out / "results.csv", "w", newline="") as f:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out / "scale.png")


if __name__ == "__main__":
    main()
