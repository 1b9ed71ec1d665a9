"""Helpers of the export tests: tiny runs, the rows they predict, and one fresh process without mlrun that runs
the exported files (onnxruntime, torch.jit.load) on the same rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlrun.export.write import export_checkpoint
from mlrun.infer.predict import Predictor

RUNNER = r'''
import json, sys
import numpy as np

cases, results = json.load(open(sys.argv[1])), {}
for name, case in cases.items():
    data = np.load(case["inputs"])                         # unicode arrays for text: no pickle
    feeds = {k: data[k].astype(object) if data[k].dtype.kind == "U" else data[k] for k in data.files}
    if case["format"] == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(case["model"], providers=["CPUExecutionProvider"])
        out = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        meta = json.loads(session.get_modelmeta().custom_metadata_map["mlrun"])
        label = out.get("label")
    else:
        import torch

        extra = {"mlrun.json": ""}
        module = torch.jit.load(case["model"], _extra_files=extra)
        meta = json.loads(extra["mlrun.json"])
        if meta["kind"] == "table":
            n = len(next(iter(feeds.values())))
            numeric = (torch.from_numpy(feeds["numeric"]) if "numeric" in feeds
                       else torch.empty(n, 0, dtype=torch.float64))
            args = (numeric, feeds["categorical"].tolist() if "categorical" in feeds else [])
        elif meta["kind"] == "pairs":
            args = (feeds["user"].tolist(), feeds["item"].tolist())
        else:
            args = (torch.from_numpy(feeds["images"]),)
        out = {k: v.numpy() for k, v in module(*args).items()}
        label = np.asarray(module.classes, dtype=object)[out["label"]] if "label" in out else None
    values = out.get("probabilities", out.get("prediction"))
    results[name] = {"values": values.astype(float).tolist(), "label": None if label is None else list(label),
                     "classes": meta["classes"]}
assert "mlrun" not in sys.modules and not any(m.startswith("mlrun.") for m in sys.modules)
json.dump({"results": results, "torch": "torch" in sys.modules}, open(sys.argv[2], "w"))
'''


def feeds(meta: dict, rows) -> dict:
    """The exported file's inputs for `rows` (a DataFrame of raw columns, images, or user/item pairs)."""
    if meta["kind"] == "images":
        return {"images": np.asarray(rows)}
    if meta["kind"] == "pairs":
        return {"user": rows.iloc[:, 0].astype(str).to_numpy("U"), "item": rows.iloc[:, 1].astype(str).to_numpy("U")}
    if isinstance(rows, np.ndarray):                     # a built-in table: columns 0..k-1
        rows = pd.DataFrame(rows, columns=meta["inputs"]["numeric"])
    out = {}
    numeric, categorical = meta["inputs"]["numeric"], meta["inputs"]["categorical"]
    if numeric:
        out["numeric"] = rows[numeric].to_numpy(np.float64)
    if categorical:                                      # text; missing → ""
        text = rows[categorical].astype(object).where(rows[categorical].notna(), "")
        out["categorical"] = text.astype(str).to_numpy("U")
    return out


def expected(predictor: Predictor, rows) -> tuple[np.ndarray, list | None]:
    """(mlrun predict's probabilities or values, its class names or None) for `rows`."""
    classify = predictor.spec.task in ("binary", "multiclass")
    frame = predictor.predict(rows, proba=classify)
    columns = [c for c in frame.columns if c.startswith("p_" if classify else "prediction")]
    return frame[columns].to_numpy(np.float64), list(frame["prediction"].astype(str)) if classify else None


def verify_outside_mlrun(cases: dict, folder: Path) -> dict:
    """{name: (onnx or torchscript file, meta, rows, predictor)} → run every file in one fresh process that never
    imports mlrun; assert its outputs equal predict's within 1e-5 and its class names equal predict's; the results."""
    spec = {}
    for name, (path, meta, rows, _) in cases.items():
        np.savez(folder / f"{name}.npz", **feeds(meta, rows))
        spec[name] = {"model": str(path), "format": "onnx" if str(path).endswith(".onnx") else "torchscript",
                      "inputs": str(folder / f"{name}.npz")}
    (folder / "cases.json").write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", RUNNER, str(folder / "cases.json"), str(folder / "out.json")],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads((folder / "out.json").read_text())
    results = out["results"]
    assert out["torch"] == any(case["format"] == "torchscript" for case in spec.values())   # ONNX runs need no torch
    for name, (_, meta, rows, predictor) in cases.items():
        values, labels = expected(predictor, rows)
        got = np.asarray(results[name]["values"])
        assert got.shape == values.shape and np.allclose(got, values, atol=1e-5, rtol=1e-6), \
            (name, np.abs(got - values).max())
        assert results[name]["label"] == labels, name
    return results


def exported(run: Path, fmt: str, **kw) -> tuple[Path, dict]:
    """(the exported file, its metadata) of `run`."""
    path = export_checkpoint(str(run), fmt, **kw)
    if fmt == "onnx":
        import onnx

        meta = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}["mlrun"])
    else:
        import torch

        extra = {"mlrun.json": ""}
        torch.jit.load(str(path), _extra_files=extra)
        meta = json.loads(extra["mlrun.json"])
    return path, meta


@pytest.fixture(scope="module")
def needs_export():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
