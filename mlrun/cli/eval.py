"""`mlrun eval checkpoint=PATH [split=test] [format=table|json] [key=value ...]`

Rebuilds the dataset and model from the config stored in the checkpoint (same seed → same split and scaling),
loads the weights and scores one split. Extra key=value pairs override the stored config, e.g.
`dataset.path=/elsewhere/housing.csv` or `device=cpu`.
"""

from __future__ import annotations

import json
import sys

from mlrun.cli.common import choice, fail, print_help, split_args
from mlrun.errors import UserError

FORMATS = ("table", "json")


def main(argv: list[str]) -> None:
    from mlrun.runtime.outputs import table
    from mlrun.infer.saved import evaluate_checkpoint

    if any(a in ("-h", "--help") for a in argv):
        return print_help(__doc__)
    args, overrides = split_args("mlrun eval", argv, ("checkpoint", "split", "format"), required=("checkpoint",))
    fmt = choice("mlrun eval", "format", args.get("format", "table"), FORMATS)
    try:
        scores = evaluate_checkpoint(args["checkpoint"], args.get("split", "test"), overrides)
    except UserError as e:
        fail("mlrun eval", str(e))
    print(json.dumps(scores) if fmt == "json" else table(scores))
    sys.stdout.flush()
