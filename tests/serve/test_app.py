"""mlrun.serve.app (`mlrun serve`): the real command on a free loopback port, good and bad requests, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlrun.infer.predict import predict_file

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, path: str, body: bytes | None = None, kind: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers={"Content-Type": kind} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def too_large(port: int) -> str:
    """The status line for a request announcing a body over max_body_mb=1: answered before the body is sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {2**20 + 1}\r\n\r\n".encode())
        return s.recv(4096).decode().splitlines()[0]


def started(server: subprocess.Popen, port: int, seconds: float = 90) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert server.poll() is None, server.communicate(timeout=10)
        try:
            if call(port, "/health") == (200, {"status": "ok"}):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError(f"mlrun serve did not answer /health in {seconds} s")


def predicted(run, new: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """`mlrun predict`'s output for the rows `new`, with probabilities."""
    new.to_csv(folder / "new.csv", index=False)
    predict_file(str(run), str(folder / "new.csv"), str(folder / "p.csv"), proba=True)
    return pd.read_csv(folder / "p.csv")


def test_the_app_answers_like_predict_and_refuses_bad_rows_in_one_line(table_run, tmp_path):
    """In process (Starlette's test client): JSON rows (the quick path) and CSV (predict's path) equal predict's
    output; a bad cell is 422 naming row and column; a body over the limit is 413; /metadata and /health."""
    from fastapi.testclient import TestClient

    from mlrun.serve.app import load, make_app

    run, new = table_run
    want = predicted(run, new, tmp_path)
    client = TestClient(make_app(load(str(run)), max_body=4096))
    out = client.post("/predict", content=json.dumps({"rows": json.loads(new.to_json(orient="records")),
                                                      "proba": True}))
    assert out.status_code == 200 and out.json()["predictions"] == list(want["prediction"])
    assert np.allclose(out.json()["probabilities"], want[["p_no", "p_yes"]].to_numpy(), atol=1e-7)
    csv = client.post("/predict?proba=true", content=new.to_csv(index=False), headers={"Content-Type": "text/csv"})
    assert csv.json() == out.json()
    bad = client.post("/predict", json=[{"a": 1, "b": 2, "colour": "red"}, {"a": 1, "b": [2], "colour": "red"}])
    assert bad.status_code == 422 and bad.json()["detail"].startswith("body: row 2, column b: ")
    assert client.post("/predict", json={"rows": []}).json() == {
        "detail": 'body: expected {"rows": [...]} with at least one row (or a bare list of rows)'}
    assert client.post("/predict", content=b"[" + b" " * 5000 + b"]").status_code == 413
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/metadata").json()["inputs"] == {"numeric": ["a", "b"], "categorical": ["colour"]}


@pytest.mark.slow
def test_the_server_predicts_refuses_bad_rows_and_stops_on_sigterm(table_run, tmp_path):
    """The real command on a free loopback port, in its own process; SIGTERM ends it with exit 0."""
    run, new = table_run
    want = predicted(run, new, tmp_path)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    server = subprocess.Popen([sys.executable, "-m", "mlrun", "serve", f"checkpoint={run}",
                               f"port={port}", "max_body_mb=1"], cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        started(server, port)
        rows = json.dumps({"rows": json.loads(new.to_json(orient="records")), "proba": True}).encode()   # NaN → null
        status, out = call(port, "/predict", rows)
        assert status == 200 and out["predictions"] == list(want["prediction"]) and out["classes"] == ["no", "yes"]
        assert np.allclose(out["probabilities"], want[["p_no", "p_yes"]].to_numpy(), atol=1e-7)
        status, out = call(port, "/predict?proba=false", new.to_csv(index=False).encode(), "text/csv")
        assert status == 200 and out == {"predictions": list(want["prediction"])}
        bad = json.dumps({"rows": [{"a": 1, "b": 2, "colour": "red"}, {"a": "x", "b": 2, "colour": "red"}]})
        assert call(port, "/predict", bad.encode()) == (422, {"detail": "body: row 2, column a: non-numeric value "
                                                                        "'x' in a numeric column (numeric in the "
                                                                        "training data)"})
        status, out = call(port, "/predict", b'{"rows": [{"a": 1}]}')
        assert status == 422 and out["detail"].startswith("body: missing column(s) 'b', 'colour'")
        assert too_large(port).startswith("HTTP/1.1 413 ")
        status, meta = call(port, "/metadata")
        assert status == 200 and meta["classes"] == ["no", "yes"] and meta["inputs"]["categorical"] == ["colour"]
        assert meta["provenance"]["run"] == str(run.resolve()) and len(meta["config_digest"]) == 64
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
        assert server.returncode == 0 and err.strip().endswith("the requests in flight were answered")
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=10)


def test_bad_arguments_are_one_line(tmp_path, cli):
    r = cli("serve", "checkpoint=nope", "port=99999", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (2, "mlrun serve: error: port='99999': must be an integer in [0, 65535]\n")
