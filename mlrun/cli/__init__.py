"""The `mlrun` command: `mlrun <command> [args]`.

    mlrun train [group=option] [key=value] [-m]     # Hydra: compose conf/, train, write outputs/
    mlrun eval checkpoint=PATH [split=test]          # score a saved model on its dataset
    mlrun predict checkpoint=PATH input=FILE         # one prediction per new row: CSV / Parquet / stdout
    mlrun export checkpoint=PATH format=onnx         # one ONNX / TorchScript file with the preprocessing inside
    mlrun serve checkpoint=PATH [port=8000]          # POST /predict, GET /health, GET /metadata on localhost
    mlrun recommend checkpoint=PATH user=ID [k=10]   # top-k unrated items from a model=mf checkpoint
    mlrun bench trainer.batch_size=64,512            # samples/s per device and batch size: CSV + plot
    mlrun report PATH... [--filter k=v] [--sort col] # table (CSV, Markdown), plots, --html of runs and sweeps
    mlrun compare A B [...]                          # config, metrics, curves, provenance and seed noise of runs
    mlrun rerun SWEEP_DIR [--dry-run]                # a sweep's failed and unfinished jobs again
"""

from __future__ import annotations

import importlib
import sys

from mlrun.cli.common import fail, split_args  # noqa: F401 - re-exported for the commands
from mlrun.errors import Stopped, stop_later_if_importing
from mlrun.version import VERSION

COMMANDS = {                                 # command → (module, one-line help); each module has main(argv)
    "train": ("mlrun.cli.train", "compose a config from conf/ and train it (Hydra; --help lists the groups)"),
    "eval": ("mlrun.cli.eval", "evaluate a checkpoint on a split of its dataset: checkpoint=PATH [split=test]"),
    "predict": ("mlrun.cli.predict", "predictions for new rows: checkpoint=PATH input=FILE [output=FILE|-] [keep=[id]]"),
    "export": ("mlrun.cli.export", "one ONNX / TorchScript file taking raw rows: checkpoint=PATH format=onnx"),
    "serve": ("mlrun.cli.serve", "predictions over HTTP: checkpoint=PATH [host=127.0.0.1 port=8000]"),
    "recommend": ("mlrun.cli.recommend", "top-k unrated items for a user (model=mf): checkpoint=PATH user=ID [k=10]"),
    "bench": ("mlrun.cli.bench", "samples/s, epoch time, time to target per device and batch size: CSV + plot"),
    "report": ("mlrun.cli.report", "table + plots of runs and sweeps: PATH... [--filter k=v] [--sort col] [--out DIR]"),
    "compare": ("mlrun.cli.compare", "what differs between runs: config, metrics, curves, provenance, seed noise"),
    "rerun": ("mlrun.cli.rerun", "run a sweep's failed and unfinished jobs again, keep the others: SWEEP_DIR [--dry-run]"),
}


RUNNING = "train"                            # the command being run, named by the early stop message (main sets it)


def usage() -> str:
    lines = ["usage: mlrun <command> [args]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "mlrun <command> --help for details"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return
    if argv[0] in ("-V", "--version"):
        print(f"mlrun {VERSION}")
        return
    if argv[0] in ("-sc", "--shell-completion"):   # the completion script asks `mlrun -sc query=bash`
        return complete(argv)
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        fail("mlrun", f"unknown command {command!r}; valid commands are {', '.join(COMMANDS)}")
    global RUNNING
    RUNNING = command
    try:
        importlib.import_module(COMMANDS[command][0]).main(rest)
        sys.stdout.flush()
    except BrokenPipeError:                  # `mlrun report ... | head`: the reader left; no traceback
        _quiet_stdout()
        sys.exit(0)
    except Stopped as e:                     # SIGINT/SIGTERM outside a training loop (which handles its own)
        fail(f"mlrun {command}", str(e), e.code)
    except Exception:                        # a library's cleanup failed while Stopped unwound through it: the stop
        if Stopped.received is None:         # is the answer (fail says it)
            raise
        fail(f"mlrun {command}", str(Stopped.received), Stopped.received.code)


def complete(argv: list[str]) -> None:
    """Shell completion (install: `eval "$(mlrun train --shell-completion install=bash)"`): the command names
    after `mlrun`, then Hydra's own completion of groups, options and keys for `mlrun train`."""
    import os

    line = os.environ.get("COMP_LINE", "")
    point = int(os.environ.get("COMP_POINT", len(line)))
    words = line[:point].split()
    typing_command = len(words) < 2 or (len(words) == 2 and not line[:point].endswith(" "))
    if typing_command:
        prefix = words[1] if len(words) == 2 else ""
        print(" ".join(c for c in COMMANDS if c.startswith(prefix)))
        return
    if words[1] != "train":
        return
    start = line.index("train")                    # Hydra completes `mlrun <overrides>`: drop the command word
    os.environ["COMP_LINE"] = line[:start] + line[start + len("train"):].lstrip()
    os.environ["COMP_POINT"] = str(max(point - (len(line) - len(os.environ["COMP_LINE"])), 0))
    importlib.import_module(COMMANDS["train"][0]).main(argv)


def _quiet_stdout() -> None:
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _stop(signum, frame) -> None:
    import signal

    if stop_later_if_importing(signum, frame):     # raised inside `import torch` it would abort the process
        return
    when = "before training started" if RUNNING == "train" else f"during mlrun {RUNNING}"
    raise Stopped(signum, f"stopped by {signal.Signals(signum).name} {when}")


def _install_early_handlers() -> None:
    """From the first instant: SIGINT/SIGTERM raise `Stopped` (exit 130/143, one line, nothing half-made) instead
    of killing the process or raising KeyboardInterrupt inside an import (one that arrives during an import is
    sent again once it is over: an exception raised inside torch's C++ init aborts the process). A signal ignored
    on purpose (nohup, `cmd &`) stays ignored. Warnings go to stdout, so stderr holds only the one error line."""
    import logging
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _stop)
    logging.captureWarnings(True)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    warnings_log = logging.getLogger("py.warnings")
    warnings_log.addHandler(handler)
    warnings_log.propagate = False


def entry() -> None:
    """The `mlrun` command and `python -m mlrun`: main(), then, after a single `mlrun train`, leave without the
    interpreter's teardown. Choice: once torch.optim has imported torch._dynamo, tearing the interpreter down
    takes ≈ 0.9 s on the 2-core machine — more than mlrun's own work in a smoke run. By then everything the run
    wrote is closed (checkpoints fsynced and renamed, loggers closed in train(), logging shut down here), so
    os._exit is safe. Sweeps (-m) exit normally: launchers may hold worker pools with their own exit hooks."""
    _install_early_handlers()
    argv = sys.argv[1:]
    fast = argv[:1] == ["train"] and not any(a in ("-m", "--multirun") for a in argv)
    try:
        main(argv)
    except SystemExit as e:
        if not fast:
            raise
        code = e.code
        if code is not None and not isinstance(code, int):   # sys.exit("text"): print it, status 1
            print(code, file=sys.stderr)
            code = 1
        _leave(code or 0)
    else:
        if fast:
            _leave(0)
    finally:
        _flush_or_quiet()


def _leave(code: int) -> None:
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):        # a closed pipe: nothing left to say
            pass
    os._exit(code)


def _flush_or_quiet() -> None:
    """At exit of every command: a reader that left (`| head`) costs no 'Exception ignored' message."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _quiet_stdout()


if __name__ == "__main__":
    entry()
