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


def chunked_too_large(port: int) -> str:
    """The status line for a chunked body (no Content-Length) of 1 MiB + 2 bytes against max_body_mb=1."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"[" + b" " * (2**20) + b"]"
        s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n")
        return s.recv(4096).decode().splitlines()[0]


def hang_up(port: int) -> None:
    """A request announcing 1000 bytes that sends 2 and disconnects."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n[{")


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
        assert chunked_too_large(port).startswith("HTTP/1.1 413 ")
        hang_up(port)
        status, meta = call(port, "/metadata")
        assert status == 200 and meta["classes"] == ["no", "yes"] and meta["inputs"]["categorical"] == ["colour"]
        assert meta["provenance"]["run"] == str(run.resolve()) and len(meta["config_digest"]) == 64
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
        assert server.returncode == 0 and err.strip().endswith("the requests in flight were answered")
        assert "Traceback" not in err and "ClientDisconnect" not in err, err
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=10)


def test_bad_arguments_are_one_line(tmp_path, cli):
    r = cli("serve", "checkpoint=nope", "port=99999", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (2, "mlrun serve: error: port='99999': must be an integer in [1, 65535]\n")
    r = cli("serve", "checkpoint=nope", "port=0", cwd=tmp_path)         # 0 would print a port it does not use
    assert (r.returncode, r.stderr) == (2, "mlrun serve: error: port='0': must be an integer in [1, 65535]\n")


def test_odd_bodies_are_one_line_422_or_413_never_500(table_run):
    """Probe findings: nested cells, deep JSON, unknown keys, a loose ?proba=, CSV that predict refuses, a chunked
    body over the limit; each answered in one line (raise_server_exceptions: a 500 would raise here)."""
    from fastapi.testclient import TestClient

    from mlrun.serve.app import load, make_app

    run, _ = table_run
    client = TestClient(make_app(load(str(run)), max_body=4096))
    row = {"a": 1, "b": 2, "colour": "red"}

    def detail(*args, **kwargs) -> str:
        out = client.post(*args, **kwargs)
        assert out.status_code == 422, out.text
        return out.json()["detail"]

    assert detail("/predict", json=[row, {**row, "colour": ["red"]}]) == (
        "body: row 2, column colour: a list value '[\"red\"]'; table cells must be numbers, text or null")
    assert detail("/predict", json={"rows": [{**row, "b": {"x": 1}}]}).startswith(
        "body: row 1, column b: an object value")
    assert detail("/predict", content=b"[" * 2000 + b"]" * 2000).startswith("body: not JSON (nested too deeply)")
    assert detail("/predict", json={"rows": [row], "probas": True}) == (
        "body: unknown key(s) 'probas'; valid keys: 'rows', 'proba'")
    for value in ("maybe", "1", ""):
        assert detail(f"/predict?proba={value}", json=[row]) == f"proba={value!r}: must be true or false"
    assert client.post("/predict?proba=TRUE", json=[row]).json()["classes"] == ["no", "yes"]
    assert client.post("/predict?proba=false", json=[row]).json().keys() == {"predictions"}
    csv = {"headers": {"Content-Type": "text/csv"}}
    assert "'a' more than once" in detail("/predict", content="a,b,colour,a\n1,2,red,3\n", **csv)
    assert detail("/predict", content="a,b,colour\n", **csv).startswith("body: no data rows (columns a, b, colour")
    chunked = client.post("/predict", content=iter([b"[", b" " * 5000, b"]"]))     # no Content-Length
    assert chunked.status_code == 413 and "over the limit of 4096 bytes" in chunked.json()["detail"]


def test_a_client_that_disconnects_mid_body_gets_no_answer_and_no_traceback(table_run, caplog):
    """Content-Length 1000, 2 bytes, then gone: Starlette would raise ClientDisconnect from request.body()."""
    import asyncio

    from mlrun.serve.app import load, make_app

    run, _ = table_run
    app = make_app(load(str(run)))
    messages = iter([{"type": "http.request", "body": b"[{", "more_body": True}, {"type": "http.disconnect"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/predict", "raw_path": b"/predict", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
    with caplog.at_level("DEBUG"):
        asyncio.run(app(scope, receive, send))
    assert sent == [] and not any(r.exc_info for r in caplog.records)
    assert len([r for r in caplog.records if "disconnected" in r.getMessage()]) <= 1
