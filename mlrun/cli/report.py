"""`mlrun report PATH... [--filter KEY=VALUE]... [--sort COLUMN] [--out DIR] [--no-plots] [--wide]`: parse → call
mlrun.report.report → print (its docstring is the help)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlrun.cli.common import fail


def main(argv: list[str]) -> None:
    from mlrun.report import report
    from mlrun.errors import UserError
    from mlrun.report.report import compact, default_out, table, terminal_width, write

    if not argv or any(a in ("-h", "--help") for a in argv):
        print(report.__doc__.strip())
        return
    paths, filters, options = [], [], {"sort": None, "out": None}
    plots, wide = True, False
    args = iter(argv)
    for a in args:
        name, eq, inline = a.partition("=")
        if name in ("--filter", "--sort", "--out"):
            value = inline if eq else next(args, None)
            if value is None:
                fail("mlrun report", f"{name} needs a value, e.g. {name} " +
                     {"--filter": "model=mlp", "--sort": "val_acc", "--out": "report/"}[name])
            if name == "--filter":
                filters.append(value)
            else:
                options[name[2:]] = value
        elif a == "--no-plots":
            plots = False
        elif a == "--wide":
            wide = True
        elif a.startswith("-"):
            fail("mlrun report", f"unknown option {a!r}; valid options: --filter KEY=VALUE, --sort COLUMN, "
                                 f"--out DIR, --no-plots, --wide")
        else:
            paths.append(a)
    if not paths:
        fail("mlrun report", "give at least one PATH: a run folder, a sweep folder or outputs/")
    try:
        df, runs, keys = table(paths, filters, options["sort"])
    except UserError as e:
        fail("mlrun report", str(e))
    print(compact(df, keys, None if wide else terminal_width()))
    sys.stdout.flush()
    out_dir = Path(options["out"]) if options["out"] else default_out(paths)
    try:
        written = write(df, runs, keys, out_dir, plots)
    except OSError as e:
        fail("mlrun report", f"cannot write the report files to {out_dir}: {e.strerror or e}; nothing was written "
                             f"(the table above is complete); write them elsewhere with --out DIR", 1)
    print(f"\n{len(df)} run{'s' * (len(df) != 1)}; wrote {out_dir}{os.sep}: " + ", ".join(p.name for p in written))
    sys.stdout.flush()
