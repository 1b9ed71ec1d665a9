"""Whole-process start-up of `mlrun`, against `python -c "import torch"` measured in the same run.

    python experiments/startup/bench.py --repeats 5          # from the repository root, in the project's venv

Each round runs every command once, in the same order (interleaved, so a change of machine load hits all of
them); the table gives the median wall seconds and the difference to `import torch`. The smoke run writes into a
temporary folder. Target (issue 7): smoke run ≤ 2 s more than `import torch`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable
COMMANDS = {
    "python -c 'import torch'": [PY, "-c", "import torch"],
    "import torch + torch.optim.Adam(...)": [PY, "-c", "import torch; torch.optim.Adam([torch.zeros(1, requires_grad=True)])"],
    "mlrun train --help": [PY, "-m", "mlrun", "train", "--help"],
    "mlrun train experiment=smoke": [PY, "-m", "mlrun", "train", "experiment=smoke"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    seconds = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(args.repeats):
            for name, command in COMMANDS.items():
                start = time.perf_counter()
                subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                seconds[name].append(time.perf_counter() - start)
    base = statistics.median(seconds["python -c 'import torch'"])
    print(f"| command | median wall s ({args.repeats} rounds) | − import torch |\n|---|---:|---:|")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median:.2f} | {median - base:+.2f} |")


if __name__ == "__main__":
    main()
