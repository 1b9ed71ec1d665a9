"""`mlrun recommend checkpoint=PATH user=ID [k=10] [format=table|json] [key=value ...]`

Top-k unrated items for one user from a model=mf checkpoint (mlrun.infer.recommend). `user` is the raw id from the
ratings file (e.g. 196 in u.data). Extra key=value pairs override the stored config, e.g. `dataset.root=/elsewhere`.
"""

from __future__ import annotations

import json
import sys

from mlrun.cli.common import choice, fail, print_help, split_args
from mlrun.errors import UserError

FORMATS = ("table", "json")


def main(argv: list[str]) -> None:
    from mlrun.infer.recommend import recommend

    if any(a in ("-h", "--help") for a in argv):
        return print_help(__doc__)
    args, overrides = split_args("mlrun recommend", argv, ("checkpoint", "user", "k", "format"),
                                 required=("checkpoint", "user"))
    k = args.get("k", "10")
    if not k.isdigit() or int(k) < 1:
        fail("mlrun recommend", f"k={k!r}: must be an integer ≥ 1")
    fmt = choice("mlrun recommend", "format", args.get("format", "table"), FORMATS)
    try:
        rows = recommend(args["checkpoint"], args["user"], int(k), overrides)
    except UserError as e:
        fail("mlrun recommend", str(e))
    if fmt == "json":
        print(json.dumps(rows))
    else:
        print(f"{'rank':>4}  {'item':>8}  {'score':>5}  title")
        for r in rows:
            print(f"{r['rank']:>4}  {r['item']:>8}  {r['score']:>5.2f}  {r['title']}")
    sys.stdout.flush()
