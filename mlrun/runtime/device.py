"""`device=auto|cpu|cuda`: pick the torch device, or fail in one line when CUDA is asked for and absent."""

from __future__ import annotations

import torch

from mlrun.errors import UserError, check

TYPES = ("auto", "cpu", "cuda")


def pick(type: str = "auto", index: int = 0) -> torch.device:  # noqa: A002 - `type` is the config key
    """auto → cuda:<index> when CUDA is available, else cpu."""
    check(type in TYPES, "device.type", type, f"valid choices are {', '.join(TYPES)}")
    check(isinstance(index, int) and index >= 0, "device.index", index, "must be an integer ≥ 0")
    if type == "cpu" or (type == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        fix = ("install a CUDA build of torch: pip install torch --index-url https://download.pytorch.org/whl/cu124"
               if torch.version.cuda is None else "check the driver with nvidia-smi and CUDA_VISIBLE_DEVICES")
        raise UserError(f"device=cuda: CUDA is not available ({why}); valid choices here: auto, cpu; or {fix}")
    count = torch.cuda.device_count()
    check(index < count, "device.index", index, f"this machine has {count} CUDA device(s): 0..{count - 1}")
    return torch.device("cuda", index)
