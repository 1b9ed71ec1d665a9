"""`mlrun report PATH... [--filter KEY=VALUE]... [--sort COLUMN] [--out DIR] [--no-plots] [--wide] [--html]`

    mlrun report outputs/multirun/2026-11-21/10-00-00        # a sweep: one row per job
    mlrun report outputs/ --filter model=mlp --sort val_acc   # every run under outputs/, best first
    mlrun report outputs/2026-11-21/10-00-00 outputs/2026-11-21/10-05-00 --out cmp/
    mlrun report outputs/multirun/2026-11-21/10-00-00 --html  # + report.html: one self-contained page

PATH is a run folder, a sweep folder or any folder above them (runs are the folders with summary.json, or
error.txt for a failed job). The table holds the settings that differ between the runs (overrides and config
group choices), the best val metric, val and train loss at that epoch, the test metrics, best epoch, epochs, seconds,
samples/s, device, a published reference when the summary has one, and the error of failed runs. Rows come in
folder order with numbers compared as numbers (job 2 before job 10), or by --sort. A run whose files cannot be
used (summary.json not a JSON object, metrics.csv not numbers, a file too large or nested too deep) is left out
and named on stderr with the file and why; when no run can be used, that is the one error line (exit 2).

Printed, the table fits the terminal (120 columns when output is not a terminal): values shared by every run and a
shared published reference are said once above it (different references: a [n] mark per row, listed below),
long text is cut, and the least important columns are left out, named below the table. --wide prints every
column in full. <out>/runs.csv and <out>/runs.md always hold every column; <out> is PATH/report (one PATH),
./report (several) or --out DIR. <out> must be new, empty or an earlier report's folder (anything else is refused);
two reports writing it at once: the second is refused ("in use"). The files are written all or nothing: where
<out> cannot be written the table is still printed, then one line says so (exit 1) and suggests --out.
Plots (PNG, matplotlib, headless): curves.png (train loss and val metric vs epoch and vs wall time, all runs
overlaid; the legend beside the panels, best first: past 10 runs the others are grey under one entry) and, for a
sweep over one or two settings, <metric>_vs_<setting>.png (points joined for numbers or side by side for names,
the metric axis zoomed to the data, not from 0; or a heatmap; seeds are averaged, error bars = their std).

Runs that differ only by seed (or fold) form seed groups: printed below the table as mean ± std, each against the
best group "significant" or "within noise" (Welch's t-test, paired when the seeds match, α = 0.05) with the seeds
per group that would settle a close call.

Provenance (summary.json's versions, packages, git commit and edits, data file fingerprints) that differs between
the runs is printed below, one line per difference against the first run ("different data: train.csv sha256 …").

--html also writes <out>/report.html: one self-contained file (no network, everything inline, opens from file://)
with the seed groups, the run table (click a header to sort, type to filter), learning curves, the metric against
each setting, parallel coordinates of a sweep's settings, Optuna's parameter importances when the study's
optuna.db is found at or above PATH (optuna installed), and each run's provenance (versions, command, git commit
and edits, data file fingerprints). Guide: docs/sweeps.md.

--filter KEY=VALUE keeps runs whose column, config group (model=mlp) or config key (optimizer.lr=0.1) has that
value (repeatable). --sort COLUMN orders the table, best first for metrics (acc, r2 high; loss, rmse low), and
is always shown, right after the run.
Full guide: docs/sweeps.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlrun.cli.common import fail, print_help
from mlrun.errors import UserError

EXAMPLES = {"--filter": "model=mlp", "--sort": "val_acc", "--out": "report/"}


def parse(argv: list[str]) -> dict:
    """The command line as {"paths", "filters", "sort", "out", "plots", "wide"}; a mistake ends in one line."""
    opts = {"paths": [], "filters": [], "sort": None, "out": None, "plots": True, "wide": False, "html": False}
    args = iter(argv)
    for a in args:
        name, eq, inline = a.partition("=")
        if name in EXAMPLES:
            value = inline if eq else next(args, None)
            if value is None:
                fail("mlrun report", f"{name} needs a value, e.g. {name} {EXAMPLES[name]}")
            if name == "--filter":
                opts["filters"].append(value)
            else:
                opts[name[2:]] = value
        elif a == "--no-plots":
            opts["plots"] = False
        elif a in ("--wide", "--html"):
            opts[a[2:]] = True
        elif a.startswith("-"):
            fail("mlrun report", f"unknown option {a!r}; valid options: --filter KEY=VALUE, --sort COLUMN, "
                                 f"--out DIR, --no-plots, --wide, --html")
        else:
            opts["paths"].append(a)
    if not opts["paths"]:
        fail("mlrun report", "give at least one PATH: a run folder, a sweep folder or outputs/")
    return opts


def main(argv: list[str]) -> None:
    # imported here: `mlrun --help` and the other commands never load the report's modules (pandas, yaml)
    from mlrun.report.compare import provenance_lines, seed_verdicts, settings
    from mlrun.report.compare_text import groups_text, provenance_text
    from mlrun.report.console import compact, terminal_width
    from mlrun.report.html import page
    from mlrun.report.write import default_out, write
    from mlrun.report.table import monitor_column, table

    if not argv or any(a in ("-h", "--help") for a in argv):
        return print_help(__doc__)
    opts = parse(argv)
    try:
        df, runs, keys, skipped = table(opts["paths"], opts["filters"], opts["sort"])
    except UserError as e:
        fail("mlrun report", str(e))
    for line in skipped:
        print(f"mlrun report: skipped {line}", file=sys.stderr)
    print(compact(df, keys, None if opts["wide"] else terminal_width(), opts["sort"]))
    metric = opts["sort"] if opts["sort"] and opts["sort"].startswith(("val_", "test_")) else monitor_column(df)
    groups = seed_verdicts(runs, [settings(r) for r in runs], keys, metric, several_sides=False) if metric else []
    if groups:
        print("\n" + groups_text(groups, metric))
    for run, name in zip(runs, df["run"]):
        run["name"] = name
    differences = provenance_lines(runs) if len(runs) > 1 else []
    if differences:
        print("\n" + provenance_text(differences, len(runs)))
    sys.stdout.flush()
    out_dir = Path(opts["out"]) if opts["out"] else default_out(opts["paths"])
    try:
        html = page(df, runs, keys, opts["paths"], skipped) if opts["html"] else None
        written = write(df, runs, keys, out_dir, opts["plots"], skipped, html)
    except UserError as e:
        fail("mlrun report", str(e))
    except OSError as e:
        fail("mlrun report", f"cannot write the report files to {out_dir}: {e.strerror or e}; nothing was written "
                             f"(the table above is complete); write them elsewhere with --out DIR", 1)
    print(f"\n{len(df)} run{'s' * (len(df) != 1)}"
          + (f" ({len(skipped)} skipped, named above)" if skipped else "")
          + f"; wrote {out_dir}{os.sep}: " + ", ".join(p.name for p in written))
    sys.stdout.flush()
