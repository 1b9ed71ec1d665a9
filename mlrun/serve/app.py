"""The HTTP app of `mlrun serve`: a saved run behind FastAPI, predicting exactly what `mlrun predict` writes.

    app = make_app(load("outputs/<run>"))           # then uvicorn.run(app, host="127.0.0.1", port=8000)

    GET  /health     {"status": "ok"}
    GET  /metadata   mlrun.export.metadata.describe(): inputs, features, classes, target, config digest, provenance
    POST /predict    JSON {"rows": [{"a": 1.5, "colour": "red"}, ...], "proba": false}  (or a bare list of rows)
                     or a CSV body (Content-Type: text/csv) with ?proba=true
                     → {"predictions": [...]} (+ "classes" and "probabilities" (N, C) with proba)

Table runs take rows of columns (a JSON null or an empty CSV cell = missing), a built-in table (iris, digits) lists
of its feature values; image runs rows of pixel values (each row an image, nested as C×H×W or flat); ratings runs
rows with user and item ids. A bad row is HTTP 422 with one line naming the row and column (mlrun's own message:
`body: row 2, column a: non-numeric value 'x' in a numeric column`); a body over the limit is HTTP 413 before it is
read whole. A worker computes one request at a time, in its event loop (no thread hand-offs: on 2 cores they cost
more than a small request's work); a 100,000-row request holds the worker ≈ 2 s, so big batches belong in
`mlrun predict` or a second worker (`workers=2`). The model is opened as `mlrun predict` opens it
(mlrun.infer.validate: weights_only, the registry allowlist, every stored value checked).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mlrun.errors import UserError
from mlrun.export.metadata import describe
from mlrun.infer.predict import Predictor
from mlrun.infer.validate import open_checkpoint
from mlrun.serve.fast import TableFast

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


class TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a body over `limit` bytes → 413, from its Content-Length or as soon as the bytes read
    pass the limit (chunked bodies), so memory stays bounded whatever the client sends."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            return await self._refuse(send, length)
        seen, started = 0, False

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if not started:
                await self._refuse(send, str(seen).encode())

    async def _refuse(self, send, length: bytes):
        body = json.dumps({"detail": f"body of {length.decode(errors='replace')} bytes: over the limit of "
                                     f"{self.limit} bytes; send fewer rows per request"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def parsed(body: bytes, content_type: str, served: Served) -> tuple[object, bool | None]:
    """(the rows as JSON gave them or a CSV's DataFrame, proba from a JSON body or None) for a request body."""
    if content_type.startswith("text/csv"):
        try:
            frame = pd.read_csv(io.BytesIO(body), dtype=str if served.meta["kind"] == "pairs" else None)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
            raise UserError(f"body: not a CSV table ({str(e).strip().splitlines()[-1]})") from None
        return frame, None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"body: not JSON ({e}); send {{\"rows\": [...]}} or a CSV body with Content-Type: text/csv") \
            from None
    proba = None
    if isinstance(data, dict):
        proba = data.get("proba", False)
        if not isinstance(proba, bool):
            raise UserError(f"proba={proba!r}: must be true or false")
        data = data.get("rows")
    if not isinstance(data, list) or not data:
        raise UserError('body: expected {"rows": [...]} with at least one row (or a bare list of rows)')
    return data, proba


def rows_of(data: list, served: Served):
    """JSON rows as predict takes them: a DataFrame of columns (tables, pairs) or the nested lists (images)."""
    kind = served.meta["kind"]
    if kind == "images" or (served.fast is not None and served.fast.lists):   # lists of values, as predict takes
        return data
    if not all(isinstance(row, dict) for row in data):
        bad = next(i for i, row in enumerate(data) if not isinstance(row, dict))
        raise UserError(f"body: row {bad + 1}: expected an object of column: value, not {type(data[bad]).__name__}")
    frame = pd.DataFrame.from_records(data)
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
            if proba is None:
                proba = request.query_params.get("proba", "false").lower() == "true"
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
