"""`mlrun export checkpoint=PATH format=onnx|torchscript [output=FILE] [overwrite=false] [key=value ...]`

A finished run as one file that takes raw rows and needs no mlrun: table runs take the raw columns (numeric
fill/shift/scale and the categorical one-hot are inside the graph), image runs the images as the dataset holds them,
ratings runs (model=mf) text user/item ids (unknown ids → the cold-start prediction). Classification gives the class
name and the probabilities, regression the value in the target's units. Class names, feature names, the target's
scale, the config digest and where the run came from travel in the file (ONNX metadata_props; TorchScript extra
file mlrun.json). Default output: <run folder>/export/model.onnx | model.torchscript (replaced on a second export);
an existing file of a run folder outside its export/ and predictions/, or one in its checkpoints/, is refused;
another existing file is replaced only with overwrite=true. Needs the `export` extra (onnx; onnxruntime to run the
file). A neural ODE exports with a fixed-grid solver only (model.solver=rk4 ...).
exporter=legacy|dynamo picks torch's ONNX exporter (legacy: TorchScript-based, the default; dynamo: torch.export,
needs onnxscript). docs/export.md shows how to run the files.

    mlrun export checkpoint=outputs/<run> format=onnx
    mlrun export checkpoint=outputs/<run>/checkpoints/best.pt format=torchscript output=model.torchscript
"""

from __future__ import annotations

from mlrun.cli.common import choice, fail, print_help, split_args
from mlrun.errors import UserError


def main(argv: list[str]) -> None:
    if any(a in ("-h", "--help") for a in argv):
        return print_help(__doc__)
    args, overrides = split_args("mlrun export", argv, ("checkpoint", "format", "output", "exporter",
                                                          "overwrite"),
                                 required=("checkpoint", "format"))
    fmt = choice("mlrun export", "format", args["format"], ("onnx", "torchscript"))
    exporter = choice("mlrun export", "exporter", args.get("exporter", "legacy"), ("legacy", "dynamo"))
    overwrite = choice("mlrun export", "overwrite", args.get("overwrite", "false").lower(), ("true", "false"))
    from mlrun.export.write import export_checkpoint   # torch and the run's code: only once the arguments parse

    try:
        path = export_checkpoint(args["checkpoint"], fmt, args.get("output"), overrides, exporter,
                                 overwrite == "true")
    except UserError as e:
        fail("mlrun export", str(e))
    print(f"{fmt} → {path}")
