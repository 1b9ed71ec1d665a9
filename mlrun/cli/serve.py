"""`mlrun serve checkpoint=PATH [host=127.0.0.1] [port=8000] [workers=1] [max_body_mb=8] [key=value ...]`

A finished run behind HTTP (FastAPI + uvicorn; the `serve` extra), predicting what `mlrun predict` writes:

    POST /predict    JSON {"rows": [{"col": value, ...}, ...], "proba": true} or a CSV body (Content-Type: text/csv,
                     ?proba=true) → {"predictions": [...], "classes": [...], "probabilities": [[...], ...]}
    GET  /health     {"status": "ok"}
    GET  /metadata   inputs, features, classes, the target's scale, the config digest, where the run came from

Binds to 127.0.0.1 unless host= says otherwise (host=0.0.0.0 serves every interface: put it behind your own
authentication). A bad row is HTTP 422 with one line naming the row and column; a body over max_body_mb is 413.
SIGTERM or Ctrl-C stops accepting connections and finishes the requests in flight first. The model is opened
with predict's checks (weights_only, the registry allowlist). docs/export.md has examples.

    mlrun serve checkpoint=outputs/<run>
    curl -s localhost:8000/predict -H 'Content-Type: application/json' -d '{"rows": [{"a": 1.0, "b": 2.0}]}'
"""

from __future__ import annotations

import os
import socket
import sys

from mlrun.cli.common import fail, print_help, split_args
from mlrun.errors import Stopped, UserError

OWN = ("checkpoint", "host", "port", "workers", "max_body_mb")


def integer(key: str, value: str, low: int, high: int) -> int:
    try:
        n = int(value)
    except ValueError:
        n = None
    if n is None or not low <= n <= high:
        fail("mlrun serve", f"{key}={value!r}: must be an integer in [{low}, {high}]")
    return n


def free(host: str, port: int) -> None:
    """One line now if `host:port` cannot be listened on (in use, no such address), rather than uvicorn's log."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(infos[0][4])
    except OSError as e:
        fail("mlrun serve", f"host={host} port={port}: cannot listen there ({e.strerror or e})")


def main(argv: list[str]) -> None:
    if any(a in ("-h", "--help") for a in argv):
        return print_help(__doc__)
    args, overrides = split_args("mlrun serve", argv, OWN, required=("checkpoint",))
    host = args.get("host", "127.0.0.1")
    port = integer("port", args.get("port", "8000"), 1, 65535)   # not 0 (any free port): the URL printed would lie
    workers = integer("workers", args.get("workers", "1"), 1, 64)
    max_body = integer("max_body_mb", args.get("max_body_mb", "8"), 1, 1024) * 2**20
    try:
        import uvicorn

        from mlrun.serve.app import load, make_app   # fastapi, torch and the run's code: after the arguments parse
    except ImportError as e:
        fail("mlrun serve", f"needs {e.name}: pip install 'mlrun-classic[serve]'")
    try:
        served = load(args["checkpoint"], overrides)   # checked here once, so a bad run is one line, not N workers
    except UserError as e:
        fail("mlrun serve", str(e))
    free(host, port)
    print(f"mlrun serve: {served.meta['task']} model of {served.meta['provenance']['run']} on http://{host}:{port} "
          f"(POST /predict, GET /health, GET /metadata)", flush=True)
    try:
        if workers == 1:
            uvicorn.run(make_app(served, max_body), host=host, port=port, log_level="warning",
                        timeout_graceful_shutdown=30)
        else:                                        # each worker process opens the run again (same checks)
            os.environ["MLRUN_SERVE"] = "\n".join([args["checkpoint"], str(max_body), *overrides])
            uvicorn.run("mlrun.serve.app:from_environment", factory=True, host=host, port=port, workers=workers,
                        log_level="warning", timeout_graceful_shutdown=30)
    except Stopped as e:                             # uvicorn re-raises the SIGTERM/SIGINT it drained for
        print(f"mlrun serve: {e}; the requests in flight were answered", file=sys.stderr)
        return
