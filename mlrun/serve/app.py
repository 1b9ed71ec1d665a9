"""The HTTP app of `mlrun serve`: a saved run behind FastAPI, predicting exactly what `mlrun predict` writes.

    app = make_app(load("outputs/<run>"))           # then uvicorn.run(app, host="127.0.0.1", port=8000)

    GET  /health     {"status": "ok"}
    GET  /metadata   mlrun.export.metadata.describe(): inputs, features, classes, target, config digest, provenance
    POST /predict    JSON {"rows": [{"a": 1.5, "colour": "red"}, ...], "proba": false}  (or a bare list of rows)
                     or a CSV body (Content-Type: text/csv, read by predict's reader) with ?proba=true
                     (proba: true or false only; another top-level key is 422)
                     → {"predictions": [...]} (+ "classes" and "probabilities" (N, C) with proba)

Table runs take rows of columns (a JSON null or an empty CSV cell = missing), a built-in table (iris, digits) lists
of its feature values; image runs rows of pixel values (each row an image, nested as C×H×W or flat); ratings runs
rows with user and item ids. A bad row is HTTP 422 with one line naming the row and column (mlrun's own message:
`body: row 2, column a: non-numeric value 'x' in a numeric column`); a body over the limit is HTTP 413 before it is
read whole, whether it announces its length or comes chunked. A worker computes one request at a time, in its
event loop (no thread hand-offs: on 2 cores they cost more than a small request's work); a 100,000-row request
holds the worker ≈ 2 s, so big batches belong in `mlrun predict` or a second worker (`workers=2`). The model is
opened as `mlrun predict` opens it (mlrun.infer.validate: weights_only, the registry allowlist, every stored value
checked).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mlrun.datasets.table import read_table
from mlrun.errors import UserError
from mlrun.export.metadata import describe
from mlrun.infer.predict import Predictor, read_rows
from mlrun.infer.validate import open_checkpoint
from mlrun.serve.fast import TableFast

log = logging.getLogger(__name__)
KEYS = ("rows", "proba")   # a JSON body's keys
MAX_BODY = 8 * 2**20          # bytes per request body (≈ 100,000 rows of a few numbers), max_body_mb= changes it


@dataclass
class Served:
    predictor: Predictor
    meta: dict
    fast: TableFast | None = None           # JSON table rows without pandas (mlrun.serve.fast)


def load(checkpoint: str, overrides: list[str] = ()) -> Served:
    """The run, opened with predict's checks, and its metadata."""
    key = f"checkpoint={str(checkpoint)!r}"
    opened = open_checkpoint(checkpoint, list(overrides))
    predictor = Predictor(opened, list(overrides), key=key)
    meta = describe(opened, predictor)
    torch.set_num_threads(1)                # one request at a time per worker; more cores: workers=
    quick = meta["kind"] == "table" and predictor.device.type == "cpu"     # its inputs are CPU tensors
    return Served(predictor, meta, TableFast(predictor) if quick else None)


class BodyLimit:
    """ASGI middleware: reads the whole body before the app runs, so a body over `limit` bytes is 413 whichever way
    it arrives (from its Content-Length before reading, or as soon as the chunks read pass the limit): memory stays
    bounded whatever the client sends, and no app code sees a partial body. A client that disconnects before its
    body is complete gets nothing (no response is possible) and leaves no traceback."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            return await self._refuse(send, length)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                log.info("mlrun serve: a client disconnected after %d of its body's bytes; nothing answered", seen)
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                return await self._refuse(send, str(seen).encode())
            if not message.get("more_body", False):
                break
        whole, replayed = b"".join(chunks), False
        del chunks

        async def replay():                    # the body once, then the server's own messages (disconnect)
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": whole, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send, length: bytes):
        body = json.dumps({"detail": f"body of {length.decode(errors='replace')} bytes: over the limit of "
                                     f"{self.limit} bytes; send fewer rows per request"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def parsed(body: bytes, content_type: str, served: Served) -> tuple[object, bool | None]:
    """(the rows as JSON gave them or a CSV's DataFrame, proba from a JSON body or None) for a request body."""
    if content_type.startswith("text/csv"):
        return csv_rows(body, served), None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:     # RecursionError: [[[[... nested too deep
        reason = str(e) if not isinstance(e, RecursionError) else "nested too deeply"
        raise UserError(f"body: not JSON ({reason}); send {{\"rows\": [...]}} or a CSV body with Content-Type: "
                        f"text/csv") from None
    proba = None
    if isinstance(data, dict):
        unknown = [k for k in data if k not in KEYS]
        if unknown:
            raise UserError(f"body: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: "
                            f"{', '.join(map(repr, KEYS))}")
        proba = data.get("proba", False)
        if not isinstance(proba, bool):
            raise UserError(f"proba={proba!r}: must be true or false")
        data = data.get("rows")
    if not isinstance(data, list) or not data:
        raise UserError('body: expected {"rows": [...]} with at least one row (or a bare list of rows)')
    return data, proba


def csv_rows(body: bytes, served: Served):
    """A CSV body read by `mlrun predict`'s own reader (mlrun.infer.predict.read_rows; image runs: a table of pixel
    values), so both refuse the same files: a column named twice, no data rows, unreadable text. The reader takes a
    file: the body goes through a temporary one (≤ max_body_mb), removed at once."""
    with tempfile.NamedTemporaryFile(prefix="mlrun-serve-", suffix=".csv") as f:
        f.write(body)
        f.flush()
        try:
            if served.meta["kind"] == "images":
                return read_table(f.name, key="input")
            return read_rows(served.predictor, f.name)
        except UserError as e:                 # the reader names the temporary file: name the body instead
            raise UserError(str(e).replace(f"input={f.name!r}", "body")) from None


def query_proba(request: Request) -> bool:
    """?proba=true|false (any case); anything else is one line, as a JSON "proba" that is not a boolean."""
    value = request.query_params.get("proba", "false")
    if value.lower() not in ("true", "false"):
        raise UserError(f"proba={value!r}: must be true or false")
    return value.lower() == "true"


def rows_of(data: list, served: Served):
    """JSON rows as predict takes them: a DataFrame of columns (tables, pairs) or the nested lists (images)."""
    kind = served.meta["kind"]
    if kind == "images" or (served.fast is not None and served.fast.lists):   # lists of values, as predict takes
        return data
    if not all(isinstance(row, dict) for row in data):
        bad = next(i for i, row in enumerate(data) if not isinstance(row, dict))
        raise UserError(f"body: row {bad + 1}: expected an object of column: value, not {type(data[bad]).__name__}")
    frame = pd.DataFrame.from_records(data)
    for column in frame.columns[frame.dtypes == object]:          # a list or an object is no table cell
        nested = frame[column].map(lambda v: isinstance(v, (list, dict))).to_numpy(bool)
        if nested.any():
            row = int(np.argmax(nested))
            value = json.dumps(frame[column].iloc[row])
            raise UserError(f"body: row {row + 1}, column {column}: {'a list' if value[0] == '[' else 'an object'} "
                            f"value {value[:40]!r}; table cells must be numbers, text or null")
    if kind == "pairs":
        frame = frame.astype(object).where(frame.notna(), "").astype(str)   # ids are text, as in read_pairs
    return frame


def response(frame: pd.DataFrame, proba: bool) -> dict:
    """predict's frame as JSON: predictions (one per row, or a list per row for several outputs), probabilities."""
    outputs = [c for c in frame.columns if c == "prediction" or c.startswith("prediction_")]
    values = frame[outputs[0]] if outputs == ["prediction"] else frame[outputs]
    out = {"predictions": values.to_numpy().tolist()}
    if proba:
        columns = [c for c in frame.columns if c.startswith("p_")]
        out["classes"] = [c[2:] for c in columns]
        out["probabilities"] = frame[columns].to_numpy(np.float64).tolist()
    return out


def make_app(served: Served, max_body: int = MAX_BODY):
    """The FastAPI app (wrapped in the body-size limit) serving `served`."""
    app = FastAPI(title="mlrun serve", version=str(served.meta["format"]), docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/metadata")
    def metadata() -> dict:
        return served.meta

    @app.post("/predict")
    async def predict(request: Request):
        body = await request.body()
        try:
            rows, proba = parsed(body, request.headers.get("content-type", ""), served)
            asked = query_proba(request)       # checked even beside a JSON "proba", which wins
            proba = asked if proba is None else proba
            if isinstance(rows, list):
                quick = served.fast.answer(rows, proba) if served.fast is not None else None
                if quick is not None:               # plain lists of str/float: json.dumps, no FastAPI encoder walk
                    return Response(json.dumps(quick), media_type="application/json")
                rows = rows_of(rows, served)
            frame = served.predictor.predict(rows, proba, name="body")
        except UserError as e:
            return JSONResponse({"detail": " ".join(str(e).split())}, status_code=422)
        return response(frame, proba)

    return BodyLimit(app, max_body)


def from_environment():
    """The app of a uvicorn worker process (`mlrun serve workers=N`): MLRUN_SERVE = checkpoint, max body, overrides
    (one per line), set by mlrun.cli.serve."""
    checkpoint, max_body, *overrides = os.environ["MLRUN_SERVE"].split("\n")
    return make_app(load(checkpoint, overrides), int(max_body))
