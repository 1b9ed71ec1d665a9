"""`mlrun train [group=option] [key=value] [-m]`: the shell over mlrun.api.run (compose, claim the run folder,
Hydra, mlrun.fit.run.train), which raises typed errors; here each becomes one line on stderr and its exit status.

A bad value: exit 2, and in a single run the folder it had just created is removed (nothing in outputs/ looks like
a result); in a sweep the job's folder keeps `error.txt`, the other jobs go on, and the command exits 1 at the end.
SIGINT/SIGTERM: exit 130/143 after a checkpoint, with the resume command; NaN/Inf with trainer.nan_policy=stop:
exit 3, the run folder and its checkpoints kept (mlrun.runtime.faults). A disk that cannot be written: exit 1.

`--help` and `--cfg job` print the composed config with each key's comment from conf/*.yaml (mlrun.config.comments).
"""

from __future__ import annotations

import contextlib
import io
import sys

from mlrun.api import run
from mlrun.cli.common import fail
from mlrun.config.comments import annotate, group_choices
from mlrun.config.compose import user_searchpath
from mlrun.errors import UserError

DEFAULTS = "== Defaults (key=value to override) =="      # conf/config.yaml's help template: the config follows


def main(argv: list[str]) -> None:
    try:
        if shows_config(argv):
            print_annotated(list(argv))
        else:
            run(list(argv))
    except UserError as e:                     # .code: 2 bad input, 1 write failure / failed jobs, 3, 130, 143
        if not str(e):                         # a DDP rank other than 0: rank 0 prints the line
            sys.exit(e.code)
        fail("mlrun train", str(e), e.code)


def shows_config(argv: list[str]) -> bool:
    """--help / -h, or --cfg job / -c job, of one job (not -m)."""
    if any(a in ("-m", "--multirun") for a in argv):
        return False
    cfg = any(a in ("--cfg", "-c") and argv[i + 1:i + 2] == ["job"] for i, a in enumerate(argv))
    return cfg or any(a in ("-h", "--help") for a in argv)


def print_annotated(argv: list[str]) -> None:
    """Hydra's --help / --cfg job output, with each config key's comment at the end of its line."""
    with contextlib.redirect_stdout(io.StringIO()) as captured:
        try:
            run(argv)
        except SystemExit as e:                # Hydra ends --help with sys.exit(0)
            if e.code:
                raise
    text = captured.getvalue()
    searchpath = user_searchpath()
    choices = group_choices(argv, searchpath)
    if DEFAULTS in text:                       # --help: only the config block between the header and the footer
        head, _, tail = text.partition(DEFAULTS)
        block, blank, footer = tail.partition("\n\n\n")
        text = head + DEFAULTS + annotate(block, choices, searchpath) + blank + footer
    else:
        text = annotate(text, choices, searchpath)
    sys.stdout.write(text)
    sys.stdout.flush()
