"""`mlrun serve` under load on loopback, and `mlrun predict` against onnxruntime on 100,000 rows.

    python experiments/serve/bench.py [--out /tmp/serve-bench] [--seconds 10] [--repeat 3]

1. Trains a small MLP (hidden [64]) on a generated mixed table (4 numeric columns with gaps, 2 text columns).
2. Starts `mlrun serve` on a free loopback port and drives it from this process: 1, 8 and 64 concurrent clients
   (threads, one keep-alive connection each), single-row and 1,000-row JSON requests; each setting stops at its
   request count or after --seconds, whichever comes first, and runs --repeat times (the median of each number is
   reported: the machine is shared). Latency = request sent → answer read, per request.
3. Writes 100,000 new rows to CSV and times, side by side: the `mlrun predict` command (read → predict → write CSV,
   process start included) against a script that runs the exported ONNX file in onnxruntime (read → run → write
   CSV, process start included), and the predict step alone (Predictor.predict on a read frame against
   session.run on the same frame's arrays).
Results: a Markdown table on stdout and results.json in --out.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SETTINGS = [(1, 1, 400), (8, 1, 1600), (64, 1, 3200), (1, 1000, 30), (8, 1000, 80), (64, 1000, 192)]   # clients,
                                                                                         # rows/request, requests
ORT_SCRIPT = r'''
import json, sys, time
import numpy as np, onnxruntime as ort, pandas as pd
start = time.perf_counter()
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
meta = json.loads(session.get_modelmeta().custom_metadata_map["mlrun"])
rows = pd.read_csv(sys.argv[2])
numeric, categorical = meta["inputs"]["numeric"], meta["inputs"]["categorical"]
text = rows[categorical].astype(object).where(rows[categorical].notna(), "")
feeds = {"numeric": rows[numeric].to_numpy(np.float64), "categorical": text.astype(str).to_numpy(object)}
label, probabilities = session.run(["label", "probabilities"], feeds)
out = pd.DataFrame({"row": np.arange(len(rows)), "prediction": label})
out.to_csv(sys.argv[3], index=False)
'''


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    colour = rng.choice(["red", "green", "blue", "grey"], size=n).astype(object)
    shop = rng.choice([f"s{i}" for i in range(20)], size=n).astype(object)
    score = x[:, 0] + 0.5 * x[:, 1] - x[:, 2] * (colour == "red") + 0.1 * (shop == "s3")
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(colour=colour, shop=shop)
    frame.loc[rng.random(n) < 0.05, "a"] = np.nan
    frame.loc[rng.random(n) < 0.05, "colour"] = None
    return frame.assign(y=np.select([score < -0.5, score < 0.5], ["low", "mid"], "high"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(port: int, body: bytes, quota: list, deadline: float, latencies: list, lock: threading.Lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.perf_counter() < deadline:
        with lock:
            if quota[0] <= 0:
                break
            quota[0] -= 1
        start = time.perf_counter()
        conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        with lock:
            latencies.append(time.perf_counter() - start)
    conn.close()


def repeated(port: int, clients: int, rows: list, count: int, seconds: float, times: int) -> dict:
    """The median of `times` repetitions, key by key (the machine is shared: single runs swing with its load)."""
    runs = [load(port, clients, rows, count, seconds) for _ in range(times)]
    median = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    return median | {k: int(median[k]) for k in ("clients", "rows_per_request", "requests", "rows_per_s")} | \
        {"repetitions": times}


def load(port: int, clients: int, rows: list, count: int, seconds: float) -> dict:
    body = json.dumps({"rows": rows}).encode()
    latencies, lock, quota = [], threading.Lock(), [count]
    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(port, body, quota, start + seconds, latencies, lock))
               for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"clients": clients, "rows_per_request": len(rows), "requests": len(ms), "seconds": round(wall, 2),
            "requests_per_s": round(len(ms) / wall, 1), "rows_per_s": round(len(ms) * len(rows) / wall),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def serve_bench(run: Path, frame: pd.DataFrame, seconds: float, times: int) -> list[dict]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlrun", "serve", f"checkpoint={run}", f"port={port}"],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/health")
                break
            except OSError:
                time.sleep(0.2)
        records = json.loads(frame.drop(columns="y").to_json(orient="records"))
        load(port, 4, records[:1], 100, seconds)                          # warm-up
        return [repeated(port, c, records[:n], count, seconds, times) for c, n, count in SETTINGS]
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=ENV, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def file_bench(run: Path, out: Path) -> dict:
    new = table(100_000, 1).drop(columns="y")
    new.to_csv(out / "new.csv", index=False)
    subprocess.run([sys.executable, "-m", "mlrun", "export", f"checkpoint={run}", "format=onnx",
                    f"output={out / 'model.onnx'}"], env=ENV, check=True, capture_output=True)
    mlrun_s = timed([sys.executable, "-m", "mlrun", "predict", f"checkpoint={run}", f"input={out / 'new.csv'}",
                     f"output={out / 'mlrun.csv'}"])
    ort_s = timed([sys.executable, "-c", ORT_SCRIPT, str(out / "model.onnx"), str(out / "new.csv"),
                   str(out / "ort.csv")])
    same = (pd.read_csv(out / "mlrun.csv")["prediction"] == pd.read_csv(out / "ort.csv")["prediction"]).all()
    sys.path.insert(0, str(ROOT))
    import onnxruntime as ort

    from mlrun.infer.predict import Predictor

    predictor = Predictor.load(run, ["device=cpu"])
    rows = pd.read_csv(out / "new.csv")
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    cat = ["colour", "shop"]
    best = {"Predictor.predict (encode + model)": [], "onnxruntime: frame → arrays": [],
            "onnxruntime: session.run": []}
    for _ in range(3):
        start = time.perf_counter()
        predictor.predict(rows)
        best["Predictor.predict (encode + model)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        feeds = {"numeric": rows[["a", "b", "c", "d"]].to_numpy(np.float64),
                 "categorical": rows[cat].astype(object).where(rows[cat].notna(), "").astype(str).to_numpy(object)}
        best["onnxruntime: frame → arrays"].append(time.perf_counter() - start)
        start = time.perf_counter()
        session.run(["label", "probabilities"], feeds)
        best["onnxruntime: session.run"].append(time.perf_counter() - start)
    n = len(rows)
    return {"rows": n, "same_predictions": bool(same),
            "command_rows_per_s": {"mlrun predict": round(n / mlrun_s), "onnxruntime script": round(n / ort_s)},
            "command_seconds": {"mlrun predict": round(mlrun_s, 2), "onnxruntime script": round(ort_s, 2)},
            "predict_step_rows_per_s": {k: round(n / min(v)) for k, v in best.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/serve-bench")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of each load setting")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each setting (the median is kept)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame = table(20_000, 0)
    frame.to_csv(out / "train.csv", index=False)
    run = out / "run"
    if not (run / "checkpoints" / "best.pt").is_file():
        subprocess.run([sys.executable, "-m", "mlrun", "train", "dataset=table", f"dataset.path={out / 'train.csv'}",
                        "dataset.target=y", "model=mlp", "model.hidden=[64]", "trainer.epochs=3", "device=cpu",
                        f"hydra.run.dir={run}"], env=ENV, check=True, capture_output=True, cwd=out)
    results = {"serve": serve_bench(run, frame, args.seconds, args.repeat), "file": file_bench(run, out),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
               "load_average_1min": round(os.getloadavg()[0], 1)}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print("| clients | rows/request | requests | requests/s | rows/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in results["serve"]:
        print(f"| {r['clients']} | {r['rows_per_request']} | {r['requests']} | {r['requests_per_s']} | "
              f"{r['rows_per_s']:,} | {r['p50_ms']} | {r['p99_ms']} |")
    print(json.dumps(results["file"], indent=1), f"\nload average {results['load_average_1min']}")


if __name__ == "__main__":
    main()
