"""`mlrun predict checkpoint=PATH input=FILE [output=FILE|-] [keep=[id,...]] [proba=false] [overwrite=false]
[key=value ...]`

One prediction per input row, in input order: `row`, the `keep` columns copied from the input (ids to join on),
`prediction` (the class name for classification, the value for regression, the rating for ratings) and, with
proba=true, `p_<class>` per class. Input: a table (CSV/TSV, gzip/bz2/zip, Parquet, Feather) with the training
columns (the target column may be absent) for table models; an IDX file, a folder of PNG/JPEG/BMP/WebP files or one
such file for image models (then a `path` column per image); `user,item` pairs for ratings models. Output: CSV or
Parquet by extension, `-` for stdout; by default <run folder>/predictions/<input name>.csv (never the current
folder). Nothing is written when any row fails; an output that is the input file, an existing file of a run folder
outside its predictions/ and export/, or one in its checkpoints/, is refused; another existing file is replaced only
with overwrite=true. CSV text cells starting with = + - @ (formulas to a spreadsheet) get a leading '. Extra
key=value pairs override the stored config (e.g. `device=cpu`).

    mlrun predict checkpoint=outputs/<run>/checkpoints/best.pt input=new.csv output=predictions.csv
    mlrun predict checkpoint=<run> input=new.csv keep=[id] output=- proba=true
    mlrun predict checkpoint=<run> input=new.csv          # → <run>/predictions/new.csv
"""

from __future__ import annotations

import sys

from mlrun.cli.common import choice, fail, print_help, split_args
from mlrun.errors import UserError


def names(value: str) -> tuple[str, ...]:
    """`[id,name]`, `id,name` or `id` → ("id", "name"); blanks dropped."""
    inner = value.strip()
    inner = inner[1:-1] if inner.startswith("[") and inner.endswith("]") else inner
    return tuple(part.strip() for part in inner.split(",") if part.strip())


def main(argv: list[str]) -> None:
    from mlrun.infer.predict import predict_file

    if any(a in ("-h", "--help") for a in argv):
        return print_help(__doc__)
    args, overrides = split_args("mlrun predict", argv, ("checkpoint", "input", "output", "proba", "keep",
                                                           "overwrite"),
                                 required=("checkpoint", "input"))
    proba = choice("mlrun predict", "proba", args.get("proba", "false").lower(), ("true", "false")) == "true"
    overwrite = choice("mlrun predict", "overwrite", args.get("overwrite", "false").lower(), ("true", "false"))
    output = args.get("output")
    try:
        n, where = predict_file(args["checkpoint"], args["input"], output, proba, overrides,
                                keep=names(args.get("keep", "")), overwrite=overwrite == "true")
    except UserError as e:
        fail("mlrun predict", str(e))
    if output != "-":
        print(f"{n} predictions → {where}")
    sys.stdout.flush()
