"""`mlrun export`: a finished run as one ONNX or TorchScript file that takes raw rows and needs no mlrun.

    path = export_checkpoint("outputs/<run>", "onnx")              # → outputs/<run>/export/model.onnx
    path = export_checkpoint("outputs/<run>", "torchscript", "m.torchscript")

The run is opened exactly as `mlrun predict` opens it (mlrun.infer.validate: weights_only, the registry allowlist,
every stored value checked) and rebuilt on the CPU; the file holds the preprocessing predict applies
(mlrun.export.graph), and its outputs equal predict's on the same rows (tests/export: within 1e-5, in a process
that never imports mlrun). Written atomically (a temporary beside it, then a rename).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlrun.errors import UserError, choose
from mlrun.export.graph import exported_core
from mlrun.export.metadata import describe
from mlrun.infer.predict import Predictor, refuse_overwriting
from mlrun.infer.validate import open_checkpoint
from mlrun.models.node import NeuralODE, solver_table
from mlrun.runtime.outputs import temporary

FORMATS = {"onnx": (".onnx",), "torchscript": (".torchscript", ".pt", ".ts")}   # format → file suffixes
PER_ROW = ("binary", "multiclass", "regression", "ratings")


def default_output(checkpoint: str, fmt: str) -> Path:
    """<run folder>/export/model.onnx | model.torchscript."""
    path = Path(checkpoint).expanduser()
    run = path if path.is_dir() else path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return run / "export" / f"model{FORMATS[fmt][0]}"


def exportable(predictor: Predictor) -> None:
    """One line when the model has no fixed graph from rows to predictions."""
    task = predictor.spec.task
    if task not in PER_ROW:
        raise UserError(f"a {task} model (dataset={predictor.spec.name}) has no per-row prediction to export; "
                        f"exportable tasks: {', '.join(PER_ROW)}")
    if isinstance(predictor.model, NeuralODE) and not solver_table()[predictor.model.solver]:
        solver = predictor.model.solver
        raise UserError(f"model.solver={solver}: an adaptive solver picks its steps from the values, so no fixed "
                        f"graph holds it; export a run trained with a fixed-grid solver (e.g. model.solver=rk4 "
                        f"model.step_size=0.1)")


def export_checkpoint(checkpoint: str, fmt: str, output: str | None = None, overrides: list[str] = (),
                      exporter: str = "legacy", overwrite: bool = False) -> Path:
    """Write the run `checkpoint` (a run folder or .pt file) as `fmt` to `output` (default: default_output); an
    existing file outside a run's export/ or predictions/ folder only with `overwrite` (refuse_overwriting)."""
    fmt = choose({k: k for k in FORMATS}, "format", fmt)
    out = Path(output).expanduser() if output else default_output(checkpoint, fmt)
    if out.suffix.lower() not in FORMATS[fmt]:
        raise UserError(f"output={str(out)!r}: a format={fmt} file ends in {' or '.join(FORMATS[fmt])}")
    refuse_overwriting(str(out), (checkpoint,), overwrite)
    key = f"checkpoint={str(checkpoint)!r}"
    opened = open_checkpoint(checkpoint, ["device=cpu", *overrides])
    predictor = Predictor(opened, ["device=cpu", *overrides], key=key)
    exportable(predictor)
    core, example = exported_core(predictor)
    meta = describe(opened, predictor)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary(out)
    try:
        if fmt == "onnx":
            from mlrun.export.onnx_file import onnx_model   # onnx is an optional extra

            tmp.write_bytes(onnx_model(core, example, predictor, meta, exporter).SerializeToString())
        else:
            import torch

            from mlrun.export.torchscript_file import script_module   # scripting costs ~1 s of imports

            torch.jit.save(script_module(core, example, predictor, meta), str(tmp),
                           _extra_files={"mlrun.json": json.dumps(meta)})
        os.replace(tmp, out)
    except OSError as e:
        raise UserError(f"output={str(out)!r}: cannot write it ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out
