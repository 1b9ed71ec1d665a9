"""`mlrun bench [key=value ...]`: the same experiment on each available device and each given value (mlrun.fit.bench).

    mlrun bench experiment=smoke trainer.batch_size=64,512          # CPU rows (+ CUDA rows when available)
    mlrun bench devices=cpu out=bench_cpu                               # one device; the table goes to bench_cpu/

Bench keys: steps=200 warmup=20 repeats=3 epochs=3 target=0.9 devices=auto out=outputs/bench/<time>; anything else
is a config override (commas sweep like `mlrun train -m`). Each row's samples/s is the median of `repeats` timed
blocks of `steps` steps, printed with its spread; a spread over 20 % of the median is flagged "!" (do not trust that
row). Writes <out>/bench.csv (+ bench.png) and prints the table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mlrun.cli.common import fail, print_help
from mlrun.errors import UserError
from mlrun.config.precheck import check_overrides
from mlrun.paths import config_dir


def main(argv: list[str]) -> None:
    from mlrun.fit.bench import BENCH_KEYS, bench, format_table, write

    if any(a in ("-h", "--help") for a in argv):
        return print_help(__doc__)
    opts, overrides = dict(BENCH_KEYS), []
    for item in argv:
        key, sep, value = item.partition("=")
        if not sep:
            fail("mlrun bench", f"{item!r}: expected key=value, e.g. trainer.batch_size=64,512")
        if key in BENCH_KEYS:
            opts[key] = value
        else:
            overrides.append(item)
    try:
        steps, warmup, epochs, repeats = (int(opts[k]) for k in ("steps", "warmup", "epochs", "repeats"))
        target = float(opts["target"])
    except ValueError:
        fail("mlrun bench", f"steps={opts['steps']}, warmup={opts['warmup']}, repeats={opts['repeats']}, "
                            f"epochs={opts['epochs']}, target={opts['target']}: steps, warmup, repeats, epochs must be "
                            f"integers, target a number")
    if steps < 1 or warmup < 0 or epochs < 1 or repeats < 1:
        fail("mlrun bench", f"steps={steps}, warmup={warmup}, repeats={repeats}, epochs={epochs}: need steps ≥ 1, "
                            f"warmup ≥ 0, repeats ≥ 1, epochs ≥ 1")

    problem = check_overrides(config_dir(), overrides)
    if problem:
        fail("mlrun bench", problem)
    out = Path(opts["out"] or Path("outputs") / "bench" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    try:
        rows = bench(overrides, steps, warmup, epochs, target, opts["devices"], repeats=repeats)
    except UserError as e:
        fail("mlrun bench", str(e))
    paths = write(rows, out, target)
    print(format_table(rows, target))
    print("wrote " + ", ".join(str(p) for p in paths))
    sys.stdout.flush()
