"""`trainer.strategy=ddp`: data-parallel training over the processes torchrun starts.

    torchrun --nproc_per_node=2 -m mlrun train trainer.strategy=ddp                    # 2 CPU processes, gloo
    torchrun --nproc_per_node=4 -m mlrun train trainer.strategy=ddp device=cuda        # 4 GPUs, nccl
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=4 --master_addr=HOST0 --master_port=29500 \\
        -m mlrun train trainer.strategy=ddp device=cuda                                # run on each node (rank 0, 1)

The same global batch as one process: every process holds the splits (tabular data is small), draws the same
permutation each epoch from the seeded shuffle generator, and computes only its own contiguous share of every
global batch of `trainer.batch_size` examples. Its loss is weighted by its share (n_rank · world / n_batch), so
DDP's gradient average equals the one-process gradient of the whole batch, a short last batch included. Rank 0
alone writes the run folder; every rank evaluates (identical weights → identical numbers).
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch

from mlrun.errors import UserError

TIMEOUT_S = int(os.environ.get("MLRUN_DDP_TIMEOUT", "300"))   # a rank waiting longer on the others fails


def launched() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) in a plain process."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


def init() -> None:
    """Join the process group (gloo for CPU tensors, nccl for CUDA ones) when torchrun started several ranks."""
    import torch.distributed as dist

    if launched()[1] > 1 and not dist.is_initialized():
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, timeout=timedelta(seconds=TIMEOUT_S))


def broadcast(value: str) -> str:
    """Rank 0's `value` on every rank."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


class Context:
    """This process's place in the job; with world == 1 every method is the identity."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0):
        self.rank, self.world, self.local_rank = rank, world, local_rank

    def device(self, device: torch.device) -> torch.device:
        if self.world > 1 and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def step(self, make, net: torch.nn.Module, loss_fn):
        """The one-process step semantics over DDP: `make(module, loss_fn)` builds the local step."""
        from torch.nn.parallel import DistributedDataParallel

        device = next(net.parameters()).device
        module = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        weighted = _Weighted(loss_fn)
        inner = make(module, weighted)
        rank, world = self.rank, self.world

        def step(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
            n = len(yb)
            lo, hi = rank * n // world, (rank + 1) * n // world   # this rank's share of the global batch
            if hi > lo:
                weighted.weight = (hi - lo) * world / n
            else:                                  # fewer examples than ranks: take part with weight 0
                lo, hi, weighted.weight = 0, 1, 0.0
            return inner(xb[lo:hi], yb[lo:hi]) / world          # Σ over ranks = the global batch's mean loss

        step.skipped = inner.skipped
        return step

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """Σ of a 0-d tensor over ranks (the epoch's loss: once per epoch)."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        value = value.detach().clone()
        dist.all_reduce(value)
        return value

    def agree(self, signum: int) -> int:
        """The largest pending signal over ranks: all stop at the same step, or none does."""
        import torch.distributed as dist

        box = torch.tensor([signum], dtype=torch.int64)         # a CPU tensor: goes over gloo
        dist.all_reduce(box, op=dist.ReduceOp.MAX)
        return int(box.item())

    def seed_ranks(self, seed: int, step: int) -> None:
        """Different random streams (dropout) per rank; the weights were initialised identically before."""
        if self.world > 1:
            torch.manual_seed(seed + 1_000_003 * (self.rank + 1) + step)


class _Weighted:
    """loss_fn × weight, the weight set per step by `Context.step`."""

    def __init__(self, loss_fn):
        self.loss_fn, self.weight = loss_fn, 1.0

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(out, y) * self.weight


def context(strategy: str) -> Context:
    """The Context for `trainer.strategy`; `ddp` joins torchrun's process group (one process → no-op)."""
    rank, world, local_rank = launched()
    if world > 1 and strategy != "ddp":
        raise UserError(f"trainer.strategy={strategy!r}: torchrun started {world} processes; add "
                        f"trainer.strategy=ddp (or run one process without torchrun)")
    if world == 1:
        return Context()
    init()
    return Context(rank, world, local_rank)
