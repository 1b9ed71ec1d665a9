"""The dynamics f(t, h) shared by `model=node` (integrated by torchdiffeq) and `model=resnet_euler` (Euler steps),
and the network around it (Chen et al. 2018, ODE-Net): stem → h(t1) = h(0) + ∫₀^t1 f(t, h) dt → head.

    images (C, H, W): conv downsampling → ConvDynamics (GroupNorm, ReLU, 3×3 convs with a time channel)
                      → GroupNorm, ReLU, global average pool, linear head
    flat inputs:      linear stem → MLPDynamics ([h, t] → tanh → [·, t] → dh/dt) → ReLU, linear head
    trajectories:     no stem, no head: the state is y itself and the output is y at the spec's sample times

The dynamics counts its evaluations (forward calls; backward passes through its output, which covers both
autograd through the solver and the adjoint's vector-Jacobian products) so the models can report NFE per batch.
"""

from __future__ import annotations

import torch
from torch import nn

from mlrun.models.base import Model
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError, check, number


class Dynamics(nn.Module):
    """Base of f(t, h): evaluation counters and torchdiffeq's step callbacks (the underflow check)."""

    def __init__(self):
        super().__init__()
        self.calls = 0              # forward evaluations since construction
        self.backward_calls = 0     # backward passes through f's output since the last reset
        self.epoch = 1              # for error messages; advanced by the model once per epoch
        self.underflow: str | None = None   # message template ({epoch}, {dt}); None = no check (fixed grids)

    def counted(self, out: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if out.grad_fn is not None:                # a hook on the autograd node: cheaper than Tensor.register_hook
            out.grad_fn.register_prehook(self._count_backward)
        return out

    def _count_backward(self, grad_outputs) -> None:
        self.backward_calls += 1

    # torchdiffeq calls func.callback_step(t0, y0, dt) before each step of the forward solve and
    # func.callback_step_adjoint during the adjoint's backward solve (there t runs reversed: it passes −t0).
    # Checking here turns "underflow in dt" into one line in both passes, not an AssertionError traceback.
    def callback_step(self, t0, y0, dt) -> None:
        self._check_step(t0, dt)

    def callback_step_adjoint(self, t0, y0, dt) -> None:
        self._check_step(-t0, dt)

    def _check_step(self, t0, dt) -> None:
        if self.underflow is not None and not bool(t0 + dt > t0):      # the solver's own assertion, one sync
            raise UserError(self.underflow.format(epoch=self.epoch, dt=float(dt)))


class ConcatLinear(nn.Module):
    """Linear map of [h, t]: (N, n_in) → (N, n_out)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.linear = nn.Linear(n_in + 1, n_out)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        tt = t.to(h.dtype).expand(h.shape[0], 1)                     # (N, 1) time column
        return self.linear(torch.cat([h, tt], dim=1))


class ConcatConv2d(nn.Module):
    """3×3 convolution of [h, t] with t as a constant extra channel: (N, C, H, W) → (N, C_out, H, W)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in + 1, c_out, kernel_size=3, padding=1)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        tt = torch.ones_like(h[:, :1]) * t.to(h.dtype)                # (N, 1, H, W) time channel
        return self.conv(torch.cat([h, tt], dim=1))


class MLPDynamics(Dynamics):
    """f(t, h) = W₂[tanh(W₁[h, t] + b₁), t] + b₂ for flat states (N, dim)."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.fc1, self.fc2 = ConcatLinear(dim, width), ConcatLinear(width, dim)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.counted(self.fc2(t, torch.tanh(self.fc1(t, h))))


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels), channels)


class ConvDynamics(Dynamics):
    """The paper's ODE-Net function: norm → ReLU → conv[h, t] → norm → ReLU → conv[h, t] → norm, (N, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = group_norm(channels), group_norm(channels), group_norm(channels)
        self.conv1, self.conv2 = ConcatConv2d(channels, channels), ConcatConv2d(channels, channels)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        h = self.conv1(t, torch.relu(self.norm1(h)))
        h = self.conv2(t, torch.relu(self.norm2(h)))
        return self.counted(self.norm3(h))


class ODENet(Model):
    """stem → states at `self.times` from `solve` (defined by the subclass) → head; NFE per batch per epoch."""

    def __init__(self, spec: DataSpec, width: int, t1: float):
        super().__init__()
        number("model.width", width, 1, integer=True)
        number("model.t1", t1, 0, low_open=True)
        self.task = spec.task
        if spec.task == "trajectory":              # the state is y: d = spec.n_outputs, times from the dataset
            check(spec.n_features == spec.n_outputs, "dataset", spec.name,
                  f"trajectory inputs (y0 of shape {spec.input_shape}) must have the state's size {spec.n_outputs}")
            self.stem, self.head = nn.Identity(), nn.Identity()
            self.f: Dynamics = MLPDynamics(spec.n_outputs, width)
            times = list(spec.times)
        elif len(spec.input_shape) == 3:           # images (C, H, W): the paper's downsampling and pooled head
            c = spec.input_shape[0]
            self.stem = nn.Sequential(
                nn.Conv2d(c, width, 3, 1), group_norm(width), nn.ReLU(),
                nn.Conv2d(width, width, 4, 2, 1), group_norm(width), nn.ReLU(),
                nn.Conv2d(width, width, 4, 2, 1))                     # (N, width, ~H/4, ~W/4)
            self.f = ConvDynamics(width)
            self.head = nn.Sequential(group_norm(width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                      nn.Linear(width, spec.n_outputs))
            times = [0.0, float(t1)]
        else:                                      # flat features (images of other ranks are flattened)
            self.stem = nn.Sequential(nn.Flatten(), nn.Linear(spec.n_features, width))
            self.f = MLPDynamics(width, width)
            self.head = nn.Sequential(nn.ReLU(), nn.Linear(width, spec.n_outputs))
            times = [0.0, float(t1)]
        self.register_buffer("times", torch.tensor(times, dtype=torch.float32), persistent=False)
        self._batches, self._nfe_forward = 0, 0

    def solve(self, h0: torch.Tensor):
        """States at `self.times`, a sequence indexed by time (first: h0)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        calls = self.f.calls
        hs = self.solve(self.stem(x))
        if self.training:
            self._batches += 1
            self._nfe_forward += self.f.calls - calls
        if self.task == "trajectory":
            return hs.transpose(0, 1)                                 # (T, N, d) → (N, T, d)
        return self.head(hs[-1])                                      # (N, n_outputs)

    def epoch_metrics(self) -> dict:
        """Mean function evaluations per training batch in the epoch just finished; resets the counters."""
        n = max(self._batches, 1)
        record = {"nfe_forward": self._nfe_forward / n, "nfe_backward": self.f.backward_calls / n}
        self._batches, self._nfe_forward, self.f.backward_calls = 0, 0, 0
        self.f.epoch += 1
        return record

    def summary_metrics(self) -> dict:
        """Peak memory of the run: host RSS (MiB) and, on CUDA, the peak allocated GPU memory (MiB)."""
        out = {}
        try:
            import resource

            out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB
        except ImportError:                        # not on Windows
            pass
        device = self.times.device
        if device.type == "cuda":
            out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        return out


def needs_torchdiffeq():
    try:
        import torchdiffeq
    except ImportError:
        raise UserError("model=node needs torchdiffeq: pip install 'mlrun-classic[ode]'") from None
    return torchdiffeq
