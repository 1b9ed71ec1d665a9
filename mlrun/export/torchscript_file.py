"""The TorchScript file of `mlrun export format=torchscript`: the traced module of mlrun.export.graph inside a
scripted front that takes text as TorchScript does (List[str]), with the run's metadata as the extra file
`mlrun.json`.

    m = torch.jit.load("model.torchscript", _extra_files=(extra := {"mlrun.json": ""}))   # no mlrun import
    m(numeric, categorical)    # table: float64 (N, k) with NaN = missing; N rows of m texts, "" = missing
    m(images)                  # images: (N, C, H, W) in the dataset's dtype
    m(users, items)            # ratings: two lists of N text ids
    → {"probabilities": (N, C), "label": (N,) class index into m.classes}  or  {"prediction": (N, K)}

Text → codes happens in TorchScript dictionaries (one per categorical column, or the user/item id maps): the
same codes the ONNX file's LabelEncoder nodes give, so both files need no sidecar. A table without numeric
columns takes `torch.empty(N, 0, dtype=torch.float64)`; one without categorical columns takes `[]`.
"""

import warnings
from typing import Dict, List

import torch
from torch import nn

from mlrun.export.graph import MISSING, columns_of, kind_of, outside


@torch.jit.script
def named(out: torch.Tensor, classify: bool) -> Dict[str, torch.Tensor]:
    if classify:
        return {"probabilities": out, "label": torch.argmax(out, 1)}
    return {"prediction": out}


class TableScript(nn.Module):
    maps: List[Dict[str, int]]
    outside: List[int]
    classes: List[str]

    def __init__(self, core, maps, outside_codes, n_numeric: int, classify: bool, classes: list[str]):
        super().__init__()
        self.core, self.maps, self.outside, self.classes = core, maps, outside_codes, classes
        self.n_numeric, self.classify = n_numeric, classify

    def forward(self, numeric: torch.Tensor, categorical: List[List[str]]) -> Dict[str, torch.Tensor]:
        n = numeric.shape[0] if self.n_numeric > 0 else len(categorical)
        if numeric.dim() != 2 or numeric.shape[1] != self.n_numeric:
            raise ValueError(f"numeric: expected (N, {self.n_numeric}) float64")
        m = len(self.maps)
        if m > 0 and len(categorical) != n:
            raise ValueError(f"categorical: {len(categorical)} rows for {n} numeric rows")
        codes: List[int] = []
        for i in range(n if m > 0 else 0):
            row = categorical[i]
            if len(row) != m:
                raise ValueError(f"categorical row {i + 1}: {len(row)} values; the model takes {m}")
            for j in range(m):
                codes.append(self.maps[j].get(row[j], self.outside[j]))
        return named(self.core(numeric, torch.tensor(codes, dtype=torch.int64).reshape(n, m)), self.classify)


class PairsScript(nn.Module):
    users: Dict[str, int]
    items: Dict[str, int]
    classes: List[str]

    def __init__(self, core, users, items):
        super().__init__()
        self.core, self.users, self.items, self.classes = core, users, items, []

    def forward(self, user: List[str], item: List[str]) -> Dict[str, torch.Tensor]:
        if len(user) != len(item):
            raise ValueError(f"{len(user)} users for {len(item)} items")
        pairs = [[self.users.get(u, -1), self.items.get(i, -1)] for u, i in zip(user, item)]
        x = torch.tensor(pairs, dtype=torch.int64).reshape(len(user), 2)
        return named(self.core(x), False)


class TensorScript(nn.Module):
    classes: List[str]

    def __init__(self, core, classify: bool, classes: list[str]):
        super().__init__()
        self.core, self.classify, self.classes = core, classify, classes

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        return named(self.core(images), self.classify)


def script_module(core, example, predictor, meta: dict) -> torch.jit.ScriptModule:
    """The scripted front around the traced core."""
    for parameter in core.parameters():
        parameter.requires_grad_(False)              # outputs without autograd history, as predict's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # tracer notes (a fixed-step solver's loop is unrolled)
        traced = torch.jit.trace(core, example, check_trace=False)
    kind, classify = kind_of(predictor), predictor.spec.task in ("binary", "multiclass")
    if kind == "pairs":
        users = {str(u): i for i, u in enumerate(predictor.source.user_ids)}
        items = {str(u): i for i, u in enumerate(predictor.source.item_ids)}
        front = PairsScript(traced, users, items)
    elif kind == "table":
        numeric, categorical = columns_of(predictor.transform)
        maps = [{**{c: i for i, c in enumerate(col["categories"])}, "": MISSING} for col in categorical]
        front = TableScript(traced, maps, [outside(c) for c in categorical], len(numeric), classify,
                            meta["classes"])
    else:
        front = TensorScript(traced, classify, meta["classes"])
    return torch.jit.script(front.eval())
