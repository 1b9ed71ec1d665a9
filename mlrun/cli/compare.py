"""`mlrun compare A B [...] [--metric NAME] [--out DIR] [--no-plots] [--wide]`

    mlrun compare outputs/2026-12-05/10-00-00 outputs/2026-12-05/10-05-00      # two runs
    mlrun compare outputs/multirun/2026-12-05/09-00-00                         # every job of a sweep
    mlrun compare 'outputs/multirun/*/lr_small' 'outputs/multirun/*/lr_big'    # two sweeps (globs), seed groups

Each PATH is a run folder, a sweep folder or a glob of them. Printed: the config keys whose values differ (every
key of the resolved config, nested keys flattened, defaults included, and the config group choices), the metrics
side by side with their deltas against the first run (A), the provenance differences ("different data: train.csv
sha256 …", "code: commit f71c2fd vs 0a1b2c3 (3 files changed)", "packages: torch 2.1.0 vs 2.2.0"), and when
runs differ only by seed (or fold), the seed groups: mean ± std and, against the best group, "significant" or
"within noise" (Welch's t-test, paired when the seeds match) with the seeds per group that would settle it.
When several PATHs are given, the runs of each PATH form their own groups. --metric NAME ranks the groups by
another metric (test_acc; default: the runs' monitored best val metric).

The learning curves, every run overlaid, are written as one SVG per metrics.csv column (curve_val_acc.svg, ...)
into --out DIR (default: compare/ in the runs' common folder; it must be new, empty or an earlier report's);
--no-plots writes nothing. A run whose files cannot be used is skipped with one line naming the file and why.
Full guide: docs/sweeps.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlrun.cli.common import fail, print_help
from mlrun.errors import UserError

EXAMPLES = {"--metric": "test_acc", "--out": "compare/"}


def parse(argv: list[str]) -> dict:
    opts = {"paths": [], "metric": None, "out": None, "plots": True, "wide": False}
    args = iter(argv)
    for a in args:
        name, eq, inline = a.partition("=")
        if name in EXAMPLES:
            value = inline if eq else next(args, None)
            if not value:
                fail("mlrun compare", f"{name} needs a value, e.g. {name} {EXAMPLES[name]}")
            opts[name[2:]] = value
        elif a in ("--no-plots", "--wide"):
            opts[{"--no-plots": "plots", "--wide": "wide"}[a]] = a == "--wide"
        elif a.startswith("-"):
            fail("mlrun compare", f"unknown option {a!r}; valid options: --metric NAME, --out DIR, --no-plots, "
                                  f"--wide")
        else:
            opts["paths"].append(a)
    if not opts["paths"]:
        fail("mlrun compare", "give two run folders, a sweep folder or globs, e.g. mlrun compare RUN_A RUN_B")
    return opts


def default_out(runs: list[dict]) -> Path:
    common = Path(os.path.commonpath([str(r["dir"].resolve()) for r in runs]))
    return (common.parent if common == runs[0]["dir"].resolve() else common) / "compare"


def main(argv: list[str]) -> None:
    # imported here: the other commands never load the report's modules (pandas, yaml)
    from mlrun.report.compare import comparison, curves
    from mlrun.report.compare_text import render
    from mlrun.report.console import terminal_width
    from mlrun.report.write import write_files

    if not argv or any(a in ("-h", "--help") for a in argv):
        return print_help(__doc__)
    opts = parse(argv)
    try:
        cmp = comparison(opts["paths"], opts["metric"])
    except UserError as e:
        fail("mlrun compare", str(e))
    for line in cmp.skipped:
        print(f"mlrun compare: skipped {line}", file=sys.stderr)
    print(render(cmp, None if opts["wide"] else terminal_width()))
    sys.stdout.flush()
    if not opts["plots"]:
        return
    out_dir = Path(opts["out"]) if opts["out"] else default_out(cmp.runs)
    charts = curves(cmp)
    if not charts:
        print("\ncurves: none (no run has metrics.csv)")
        return
    try:
        written = write_files(out_dir, charts)
    except UserError as e:
        fail("mlrun compare", str(e))
    except OSError as e:
        fail("mlrun compare", f"cannot write the curves to {out_dir}: {e.strerror or e}; write them elsewhere with "
                              f"--out DIR (or --no-plots)", 1)
    print(f"\ncurves: wrote {out_dir}{os.sep}: " + ", ".join(p.name for p in written))
