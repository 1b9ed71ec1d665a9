"""The ONNX file of `mlrun export format=onnx`: the traced module of mlrun.export.graph, with string inputs and a
class-name output added as ai.onnx.ml nodes, and the run's metadata in metadata_props.

Inputs and outputs, all with N rows (any N):
- table: `numeric` float64 (N, k), NaN = missing (absent when k = 0); `categorical` string (N, m), "" = missing,
  a cell compared as text with the training categories (absent when m = 0). One LabelEncoder per categorical
  column turns text into the column's code (graph.MISSING for "", graph.outside() for any other value);
- images: `images` (N, C, H, W) in the dataset's dtype (uint8 for IDX files);
- pairs: `user`, `item` string (N,), ids as in the ratings file; an id not seen in training → −1 (cold start);
- outputs: classification `label` string (N,) and `probabilities` float32 (N, C); otherwise `prediction`
  float32 (N, K) in the target's units.

The torch → ONNX step uses torch's TorchScript-based exporter (`dynamo=False`, exporter=legacy) by default:
tracing unrolls a fixed-step ODE solver's Python loop as it runs, where torch.export (exporter=dynamo, needs
onnxscript) stops at torchdiffeq's data-dependent checks; and it takes 0.1–1.2 s per small model on the 2-core
machine against 2.8–5.6 s for torch.export (docs/export.md has the measurements). exporter=dynamo exports the
other kinds (table, CNN, MF) with the same outputs.
"""

from __future__ import annotations

import io
import json
import warnings

import torch

from mlrun.errors import UserError
from mlrun.export.graph import MISSING, columns_of, kind_of, outside

OPSET = 17                 # ai.onnx; onnxruntime ≥ 1.14 runs it
ML_OPSET = 3               # ai.onnx.ml: LabelEncoder with keys_strings / values_int64s


def needs_onnx():
    try:
        import onnx
    except ImportError:
        raise UserError("format=onnx needs the onnx package: pip install 'mlrun-classic[export]'") from None
    return onnx


def torch_to_onnx(core: torch.nn.Module, example: tuple, names: list[str], output: str, exporter: str):
    """The traced core as an onnx.ModelProto, batch dimension dynamic."""
    onnx = needs_onnx()
    if exporter == "dynamo":
        try:
            import onnxscript  # noqa: F401 - the torch.export-based exporter needs it
            del onnxscript
        except ImportError:
            raise UserError("exporter=dynamo needs onnxscript: pip install 'mlrun-classic[export]'") from None
    buffer = io.BytesIO()
    axes = {name: {0: "N"} for name in [*names, output]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # the legacy exporter's deprecation and tracer notes
        try:
            if exporter == "legacy":
                torch.onnx.export(core, example, buffer, input_names=names, output_names=[output],
                                  dynamic_axes=axes, opset_version=OPSET, dynamo=False)
            else:
                n = torch.export.Dim("N", min=1)
                program = torch.onnx.export(core, example, input_names=names, output_names=[output],
                                            dynamic_shapes=tuple({0: n} for _ in names), dynamo=True,
                                            opset_version=max(OPSET, 18), verbose=False)
                program.save(buffer)
        except Exception as e:                       # torch's exporters raise many kinds: one line, the root cause
            while e.__cause__ is not None:
                e = e.__cause__
            first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
            other = "legacy" if exporter == "dynamo" else "dynamo"
            raise UserError(f"exporter={exporter}: torch could not export this model ({first[:200]}); try "
                            f"exporter={other}") from None
    return onnx.load_from_string(buffer.getvalue())


def _encoder(onnx, name: str, source: str, target: str, keys: list[str], values: list[int], default: int):
    return onnx.helper.make_node("LabelEncoder", [source], [target], name=name, domain="ai.onnx.ml",
                                 keys_strings=keys, values_int64s=values, default_int64=default)


def string_front(onnx, predictor) -> tuple[list, list, str]:
    """(nodes, new graph inputs, the tensor they produce) turning text into the core's integer input."""
    helper, STRING, kind = onnx.helper, onnx.TensorProto.STRING, kind_of(predictor)
    if kind == "pairs":
        nodes = []
        for j, (name, ids) in enumerate((("user", predictor.source.user_ids), ("item", predictor.source.item_ids))):
            keys = [str(i) for i in ids]
            nodes.append(_encoder(onnx, f"{name}_index", name, f"{name}_code", keys, list(range(len(keys))), -1))
            nodes.append(helper.make_node("Unsqueeze", [f"{name}_code", "axis_1"], [f"{name}_column"]))
        nodes.append(helper.make_node("Concat", ["user_column", "item_column"], ["pairs"], axis=1))
        inputs = [helper.make_tensor_value_info(n, STRING, ["N"]) for n in ("user", "item")]
        return nodes, inputs, "pairs"
    _, categorical = columns_of(predictor.transform)
    nodes, parts = [], []
    for j, column in enumerate(categorical):
        if "" in column["categories"]:
            raise UserError(f"column {column['name']}: a category is empty text, which the exported model reads as "
                            f"missing; rename it in the training file")
        keys = column["categories"] + [""]
        values = list(range(len(column["categories"]))) + [MISSING]
        start, end = f"start_{j}", f"end_{j}"
        nodes += [helper.make_node("Constant", [], [start], value_ints=[j]),
                  helper.make_node("Constant", [], [end], value_ints=[j + 1]),
                  helper.make_node("Slice", ["categorical", start, end, "axis_1"], [f"text_{j}"]),
                  _encoder(onnx, f"encode_{j}", f"text_{j}", f"code_{j}", keys, values, outside(column))]
        parts.append(f"code_{j}")
    nodes.append(helper.make_node("Concat", parts, ["codes"], axis=1))
    return nodes, [helper.make_tensor_value_info("categorical", STRING, ["N", len(categorical)])], "codes"


def label_back(onnx, classes: list[str]) -> list:
    """Probabilities → the class name of the largest (the first of equals, as predict)."""
    helper = onnx.helper
    return [helper.make_node("ArgMax", ["probabilities"], ["label_index"], axis=1, keepdims=0),
            helper.make_node("LabelEncoder", ["label_index"], ["label"], domain="ai.onnx.ml",
                             keys_int64s=list(range(len(classes))), values_strings=classes, default_string="")]


def _copy(message):
    """A detached copy of a protobuf message (the repeated field it came from is cleared next)."""
    twin = type(message)()
    twin.CopyFrom(message)
    return twin


def onnx_model(core, example, predictor, meta: dict, exporter: str = "legacy"):
    """The finished onnx.ModelProto: core + string front + label output + metadata, checked."""
    onnx = needs_onnx()
    kind = kind_of(predictor)
    names = {"table": ["numeric", "codes"], "pairs": ["pairs"], "images": ["images"]}[kind]
    output = "probabilities" if predictor.spec.task in ("binary", "multiclass") else "prediction"
    model = torch_to_onnx(core, example, names, output, exporter)
    graph = model.graph
    front, new_inputs, produced = [], [], None
    if kind == "pairs" or (kind == "table" and meta["inputs"]["categorical"]):
        front, new_inputs, produced = string_front(onnx, predictor)
        front.insert(0, onnx.helper.make_node("Constant", [], ["axis_1"], value_ints=[1]))
    used = {name for node in graph.node for name in node.input}
    kept = [_copy(i) for i in graph.input if i.name != produced and i.name in used]
    del graph.input[:]
    graph.input.extend(kept + new_inputs)
    nodes = front + [_copy(n) for n in graph.node]
    if output == "probabilities":
        nodes += label_back(onnx, meta["classes"])
        graph.output.insert(0, onnx.helper.make_tensor_value_info("label", onnx.TensorProto.STRING, ["N"]))
    del graph.node[:]
    graph.node.extend(nodes)
    others = [_copy(o) for o in model.opset_import if o.domain != "ai.onnx.ml"]
    del model.opset_import[:]
    model.opset_import.extend(others + [onnx.helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    del model.metadata_props[:]
    entries = {"mlrun": json.dumps(meta), "classes": json.dumps(meta["classes"]),
               "features": json.dumps(meta["features"]), "target": json.dumps(meta["target"]),
               "inputs": json.dumps(meta["inputs"]), "config_digest": meta["config_digest"]}
    onnx.helper.set_model_props(model, entries)
    model.producer_name, model.doc_string = "mlrun", f"mlrun export of {meta['provenance']['run']}"
    onnx.checker.check_model(model)
    return model
