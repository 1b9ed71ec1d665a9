"""A stored run as one torch module from the caller's raw values to predictions: what `mlrun export` traces.

    core, example = exported_core(predictor)     # mlrun.infer.predict.Predictor, on the CPU, eval mode
    core(*example)                               # (N, C) class probabilities, or (N, K) values in target units

Inputs by kind (the same rows give `mlrun predict`'s numbers):
- table (dataset=table, or a built-in table such as iris): `numeric` (N, k) float64, NaN = missing, one column per
  numeric input column in `numeric_columns` order; `codes` (N, m) int64, one column per categorical input column:
  the category's index in that column's categories, OUTSIDE(column) for a value outside them, MISSING for a missing
  cell. The string → code step is not torch's (it has no string tensors): the ONNX file does it with ai.onnx.ml
  LabelEncoder nodes (mlrun.export.onnx_file), the TorchScript file with dictionaries (mlrun.export.torchscript_file).
  Inside: the fill (train median / mode), (x − shift) / scale in float64 as predict, one-hot, missing indicators,
  then the inputs in the model's feature order;
- images: (N, C, H, W) as the dataset holds them (uint8 for IDX files), the dataset's normalisation in front;
- ratings (model=mf): `pairs` (N, 2) int64 (user index, item index), −1 for an id not seen in training: the
  model's cold-start prediction (μ + the known bias), as predict.
Outputs: classification (N, C) probabilities (binary: [1 − p, p]); regression (N, K) values in the target's units
(x · scale + shift of a standardized target); ratings (N, 1).
"""

from __future__ import annotations

import torch
from torch import nn

MISSING = -3              # code of a missing categorical cell (the string front maps "" to it)
UNSEEN = -2               # code of a value outside a column's categories when the column has no "other" input


def outside(column: dict) -> int:
    """The code of a value outside `column`'s categories: its "other" input, or no input at all."""
    return len(column["categories"]) if column["other"] else UNSEEN


def columns_of(transform: dict) -> tuple[list[dict], list[dict]]:
    """(numeric columns, categorical columns) of a stored transform; a built-in table's array transform becomes
    one numeric column per input (fill 0 when train had no gaps: predict's nan_to_num; shift 0, scale 1 unscaled)."""
    if transform.get("kind") == "array":
        width = transform["width"]
        fill, shift, scale = (transform.get(k) for k in ("fill", "shift", "scale"))
        numeric = [{"name": str(j), "kind": "numeric", "fill": fill[j] if fill else 0.0,
                    "shift": shift[j] if shift else 0.0, "scale": scale[j] if scale else 1.0, "indicator": False}
                   for j in range(width)]
        return numeric, []
    columns = transform["columns"]
    return [c for c in columns if c["kind"] == "numeric"], [c for c in columns if c["kind"] == "categorical"]


class TableInputs(nn.Module):
    """numeric (N, k) float64 + codes (N, m) int64 → model inputs (N, D) float32, in the transform's feature order."""

    def __init__(self, transform: dict):
        super().__init__()
        numeric, categorical = columns_of(transform)
        order = transform["columns"] if transform.get("kind") != "array" else numeric
        first, j = {}, 0                       # column name → its first model input
        for column in order:
            first[column["name"]] = j
            j += 1 if column["kind"] == "numeric" else len(column["categories"]) + column["other"]
            j += column["indicator"]
        grouped = [first[c["name"]] for c in numeric]                        # model input of each piece column
        grouped += [first[c["name"]] + 1 for c in numeric if c["indicator"]]
        self.widths, self.fills, self.indicators = [], [], []
        for c in categorical:
            width = len(c["categories"]) + c["other"]
            grouped += [first[c["name"]] + i for i in range(width)]
            grouped += [first[c["name"]] + width] if c["indicator"] else []
            self.widths.append(width)
            self.fills.append(c["categories"].index(c["fill"]) if c["fill"] in c["categories"] else -1)
            self.indicators.append(bool(c["indicator"]))
        self.register_buffer("fill", torch.tensor([c["fill"] for c in numeric], dtype=torch.float64))
        self.register_buffer("shift", torch.tensor([c["shift"] for c in numeric], dtype=torch.float64))
        self.register_buffer("scale", torch.tensor([c["scale"] for c in numeric], dtype=torch.float64))
        self.register_buffer("order", torch.argsort(torch.tensor(grouped, dtype=torch.int64)))   # (D,)
        self.flagged = [i for i, c in enumerate(numeric) if c["indicator"]]
        self.n_numeric, self.n_codes = len(numeric), len(categorical)

    def forward(self, numeric: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        pieces = []
        if self.n_numeric:
            missing = torch.isnan(numeric)
            x = torch.where(missing, self.fill, numeric)
            pieces.append(((x - self.shift) / self.scale).to(torch.float32))          # (N, k)
            if self.flagged:
                pieces.append(missing[:, self.flagged].to(torch.float32))
        for j, width in enumerate(self.widths):   # unrolled when traced: one one-hot block per column
            code = codes[:, j:j + 1]                                                # (N, 1)
            missing = code == MISSING
            code = torch.where(missing, torch.full_like(code, self.fills[j]), code)
            if width:
                pieces.append((code == torch.arange(width)).to(torch.float32))        # (N, width)
            if self.indicators[j]:
                pieces.append(missing.to(torch.float32))
        return torch.cat(pieces, 1)[:, self.order]


class Head(nn.Module):
    """Model outputs → what predict reports: class probabilities, or values in the target's units."""

    def __init__(self, task: str, target: dict | None):
        super().__init__()
        self.task = task
        scaled = isinstance(target, dict) and "scale" in target
        self.shift, self.scale = (float(target["shift"]), float(target["scale"])) if scaled else (0.0, 1.0)

    def forward(self, out: torch.Tensor) -> torch.Tensor:
        if self.task == "binary":
            p = torch.sigmoid(out[:, :1])
            return torch.cat([1 - p, p], 1)
        if self.task == "multiclass":
            return torch.softmax(out, 1)
        values = out.reshape(out.shape[0], -1)
        return values * self.scale + self.shift if self.scale != 1.0 or self.shift != 0.0 else values


class Exported(nn.Module):
    """[inputs →] network → head: one module from raw values to predictions."""

    def __init__(self, inputs: nn.Module | None, net: nn.Module, head: Head):
        super().__init__()
        self.inputs, self.net, self.head = inputs, net, head

    def forward(self, x: torch.Tensor, codes: torch.Tensor | None = None) -> torch.Tensor:
        """x: numeric columns (with `codes`: categorical codes), images or (user, item) index pairs."""
        return self.head(self.net(self.inputs(x, codes) if self.inputs is not None else x))


def kind_of(predictor) -> str:
    """table | images | pairs: how the exported model takes its rows."""
    if predictor.spec.task == "ratings":
        return "pairs"
    return "table" if predictor.transform else "images"


def exported_core(predictor, rows: int = 3) -> tuple[Exported, tuple[torch.Tensor, ...]]:
    """(the module, example inputs of `rows` rows) for a Predictor on the CPU."""
    spec, kind = predictor.spec, kind_of(predictor)
    target = predictor.transform.get("target") if predictor.transform else None
    head = Head(spec.task, target)
    if kind == "table":
        inputs = TableInputs(predictor.transform)
        numeric = torch.linspace(-1, 1, rows * inputs.n_numeric, dtype=torch.float64).reshape(rows, -1)
        codes = torch.zeros(rows, inputs.n_codes, dtype=torch.int64)
        return Exported(inputs, predictor.net, head).eval(), (numeric, codes)
    if kind == "pairs":
        return Exported(None, predictor.net, head).eval(), (torch.zeros(rows, 2, dtype=torch.int64),)
    split = predictor.source.test if len(predictor.source.test) else predictor.source.train
    images = torch.zeros(rows, *split.x.shape[1:], dtype=split.x.dtype)    # uint8 for IDX images
    return Exported(None, predictor.net, head).eval(), (images,)
