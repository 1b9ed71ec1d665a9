"""Memory the run asks for, checked against what the machine has before anything large is allocated.

A size key set too high (`dataset.n_samples=1000000000`, `model.hidden=[100000,100000]`) would otherwise start a
run that the kernel kills minutes later with no message (Linux lets an allocation succeed and kills on first
touch), or that swaps the machine to a halt. The estimates are lower bounds — the bytes the data or the parameters
must occupy — so a refusal is certain to be right; a run that passes may still need more (activations, temporaries).
"""

from __future__ import annotations

import os

from mlrun.errors import UserError


def available_bytes() -> int:
    """Bytes this process can still get without swapping: Linux's MemAvailable (free + reclaimable cache), else the
    physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024          # the file counts kB
    except (OSError, ValueError, IndexError):
        pass
    return physical_bytes() or 1 << 62                        # unknown: do not refuse


def physical_bytes() -> int | None:
    """This machine's physical memory in bytes; None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.1f} MB"


def require(need: float, what: str, how: str, fix: str, have: int | None = None, where: str = "this machine") -> None:
    """Fail in one line when `need` bytes exceed `have` (default: available_bytes()).

    what: the keys and values that ask for it, e.g. "dataset.n_samples=1000000000, dataset.n_features=2".
    how: how the need was counted, e.g. "1,000,000,000 rows × 3 values × 24 bytes". fix: what to lower.
    """
    have = available_bytes() if have is None else have
    if need > have:
        raise UserError(f"{what}: needs at least {gb(need)} ({how}) but {where} has {gb(have)} available; {fix}")
