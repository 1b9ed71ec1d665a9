"""What every command shares: the one-line error exit and `key=value` argument parsing."""

from __future__ import annotations

import sys

from mlrun.errors import Stopped


def fail(prog: str, message: str, code: int = 2):
    """Print one error line to stderr and exit non-zero. After a SIGINT/SIGTERM the line is the stop's: a library
    whose cleanup fails while `Stopped` unwinds replaces it with its own error (Hydra's config reader runs
    `f.close()` in a `finally` before `f` exists: "cannot access local variable 'f'", exit 2)."""
    stop = Stopped.received
    if stop is not None and code != stop.code:
        message, code = str(stop), stop.code
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(code)


def split_args(prog: str, argv: list[str], own: tuple[str, ...], required: tuple[str, ...] = ()
               ) -> tuple[dict, list[str]]:
    """`key=value` arguments of a command: (the command's own keys, config overrides for the rest)."""
    args, overrides = {}, []
    for item in argv:
        key, sep, value = item.partition("=")
        if not sep:
            fail(prog, f"{item!r}: expected key=value, e.g. {own[0]}=...; valid keys: {', '.join(own)} "
                       f"(others override the stored config)")
        if key in own:
            args[key] = value
        else:
            overrides.append(item)
    for key in required:
        if key not in args:
            fail(prog, f"{key}= is required ({prog} --help)")
    return args, overrides


def choice(prog: str, key: str, value: str, valid: tuple[str, ...]) -> str:
    if value not in valid:
        fail(prog, f"{key}={value!r}: valid choices are {', '.join(valid)}")
    return value


def print_help(doc: str | None) -> None:
    print((doc or "").strip())
