"""The quick path of `mlrun serve` for JSON table rows: plain Python values straight into the exported module's
inputs (mlrun.export.graph), without building a DataFrame — a single-row request costs a few dict lookups and one
small torch call instead of pandas' per-column machinery (≈ 25× the requests/s of one client on the 2-core
machine: experiments/serve).

    fast = TableFast(predictor)           # a Predictor of a table run (dataset=table or a built-in table)
    fast.answer(rows, proba)              # the response dict, or None: then the full predict path answers

Rows are objects of column: value (dataset=table) or lists of the feature values (a built-in table such as iris,
in the dataset's feature order). Only rows it can encode exactly as predict would take this path: numbers (or
null) in numeric columns, text / numbers / booleans (or null) in categorical ones, every column present in every
row, values that stay finite and inside float32 after scaling. Anything else returns None and goes through
`Predictor.predict`, which answers with its own one-line reason (the row and column) — so the two paths give the
same numbers and the same errors.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mlrun.datasets._checks import FLOAT32_MAX
from mlrun.datasets._table_transform import key_of
from mlrun.export.graph import MISSING, columns_of, exported_core, outside


class TableFast:
    def __init__(self, predictor):
        numeric, categorical = columns_of(predictor.transform)
        self.numeric = [c["name"] for c in numeric]
        self.lists = predictor.transform.get("kind") == "array"  # built-in tables: a row is a list of the values
        self.categorical = [(c["name"], {k: i for i, k in enumerate(c["categories"])}, outside(c))
                            for c in categorical]
        self.core, _ = exported_core(predictor)
        self.task = predictor.spec.task
        classes = list(predictor.spec.classes)
        self.classes = classes if classes else [str(i) for i in range(max(predictor.spec.n_outputs, 2))]
        bound = [FLOAT32_MAX * c["scale"] - abs(c["shift"]) for c in numeric]   # |x| beyond: float32 overflow
        self.bound = np.asarray(bound, dtype=np.float64)

    def inputs(self, rows: list) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(numeric (N, k) float64, codes (N, m) int64), or None when a row needs the full path."""
        try:
            values = [[v if v is not None else math.nan for v in row] for row in rows] if self.lists else \
                [[row[c] if row[c] is not None else math.nan for c in self.numeric] for row in rows]
            if any(type(v) not in (int, float) for row in values for v in row):
                return None
            numeric = np.asarray(values, dtype=np.float64).reshape(len(rows), len(self.numeric))
            codes = [[self._code(row[name], index, other) for name, index, other in self.categorical]
                     for row in rows] if self.categorical else [[] for _ in rows]
        except (KeyError, TypeError, IndexError, ValueError):
            return None
        present = numeric[~np.isnan(numeric)]
        if not np.isfinite(present).all() or (np.abs(numeric) > self.bound).any() or \
                any(c is None for row in codes for c in row):
            return None
        return torch.from_numpy(numeric), torch.tensor(codes, dtype=torch.int64).reshape(len(rows), -1)

    @staticmethod
    def _code(value, index: dict, other: int) -> int | None:
        if value is None:
            return MISSING
        key = key_of(value)
        return None if key is None else index.get(key, other)

    @torch.no_grad()
    def answer(self, rows: list, proba: bool) -> dict | None:
        shape = list if self.lists else dict
        usable = isinstance(rows, list) and rows and all(isinstance(row, shape) for row in rows)
        encoded = self.inputs(rows) if usable else None
        if encoded is None:
            return None
        out = self.core(*encoded)
        if self.task not in ("binary", "multiclass"):
            values = out.numpy()
            return {"predictions": (values[:, 0] if values.shape[1] == 1 else values).tolist()}
        names = np.asarray(self.classes, dtype=object)[out.argmax(1).numpy()].tolist()
        return {"predictions": names, **({"classes": self.classes, "probabilities": out.double().numpy().tolist()}
                                         if proba else {})}
