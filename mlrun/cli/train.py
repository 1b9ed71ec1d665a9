"""`mlrun train [group=option] [key=value] [-m]`: the shell over mlrun.api.run (compose, claim the run folder,
Hydra, mlrun.fit.run.train), which raises typed errors; here each becomes one line on stderr and its exit status.

A bad value: exit 2, and in a single run the folder it had just created is removed (nothing in outputs/ looks like
a result); in a sweep the job's folder keeps `error.txt`, the other jobs go on, and the command exits 1 at the end.
SIGINT/SIGTERM: exit 130/143 after a checkpoint, with the resume command; NaN/Inf with trainer.nan_policy=stop:
exit 3, the run folder and its checkpoints kept (mlrun.runtime.faults). A disk that cannot be written: exit 1.
"""

from __future__ import annotations

import sys

from mlrun.api import run
from mlrun.cli.common import fail
from mlrun.errors import UserError


def main(argv: list[str]) -> None:
    try:
        run(list(argv))
    except UserError as e:                     # .code: 2 bad input, 1 write failure / failed jobs, 3, 130, 143
        if not str(e):                         # a DDP rank other than 0: rank 0 prints the line
            sys.exit(e.code)
        fail("mlrun train", str(e), e.code)
