"""Neural ODE (Chen et al. 2018): the hidden state follows dh/dt = f(h, t), integrated by torchdiffeq.

    mlrun train model=node                                   # MLP dynamics on digits, dopri5, rtol=atol=1e-3
    mlrun train model=node model.solver=rk4 model.step_size=0.25
    mlrun train experiment=mnist_odenet model.adjoint=true   # conv ODE-Net, O(1)-memory adjoint gradients
    mlrun train experiment=spiral_node                       # learn dy/dt from trajectories; trajectories.png

Adaptive solvers (dopri5, …) choose their steps from rtol/atol; fixed-grid solvers (euler, rk4, …) step by
`step_size`. With solver=euler and step_size=1/steps this is exactly `model=resnet_euler` with `steps` residual
blocks sharing the same f. metrics.csv gets nfe_forward / nfe_backward: evaluations of f per training batch.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError, check, choose, number
from mlrun.models.odefunc import ODENet, needs_torchdiffeq


def solver_table() -> dict[str, bool]:
    """torchdiffeq's own solver table: name → True for fixed-grid solvers (scipy_solver is left out: it does
    not backpropagate)."""
    needs_torchdiffeq()
    from torchdiffeq._impl.odeint import SOLVERS          # the table odeint(method=...) looks names up in
    from torchdiffeq._impl.solvers import FixedGridODESolver

    return {name: issubclass(cls, FixedGridODESolver) for name, cls in SOLVERS.items() if name != "scipy_solver"}


class NeuralODE(ODENet):
    tasks = ("regression", "binary", "multiclass", "trajectory")   # dataset tasks it learns (checked once by mlrun.fit.build.model)
    import_first = ("torchdiffeq",)        # imported in __init__ (an optional extra: not at the top, ~0.3 s)

    def __init__(self, spec: DataSpec, solver: str = "dopri5", rtol: float = 1e-3, atol: float = 1e-3,
                 step_size: float | None = None, adjoint: bool = False, t1: float = 1.0, width: int = 64):
        """ODE block on [0, t1] (on the dataset's sample times for task=trajectory) between a stem and a head
        built from the spec (see mlrun.models.odefunc)."""
        super().__init__(spec, width, t1)
        table = solver_table()
        fixed = choose(table, "model.solver", solver)
        number("model.rtol", rtol, 0, low_open=True)
        number("model.atol", atol, 0, low_open=True)
        if step_size is not None:
            number("model.step_size", step_size, 0, low_open=True)
            check(fixed, "model.step_size", step_size, f"only for fixed-grid solvers "
                  f"({', '.join(k for k, v in table.items() if v)}); solver={solver} adapts its steps to rtol/atol "
                  f"(set model.step_size=null)")
        check(isinstance(adjoint, bool), "model.adjoint", adjoint, "must be true or false")
        self.solver, self.rtol, self.atol, self.adjoint = solver, float(rtol), float(atol), adjoint
        self.options = {"step_size": float(step_size)} if step_size is not None else {}
        if not fixed:
            self.f.underflow = (f"model.solver={solver}: step size underflow in dt ({{dt:.3g}}) at epoch {{epoch}}: "
                                f"the learned dynamics got too stiff for rtol={rtol}, atol={atol}; "
                                f"loosen model.rtol/model.atol or lower optimizer.lr")

    def solve(self, h0: torch.Tensor) -> torch.Tensor:
        """States at `self.times`: (T, *h0.shape)."""
        import torchdiffeq

        odeint = torchdiffeq.odeint_adjoint if self.adjoint and self.training else torchdiffeq.odeint
        try:
            return odeint(self.f, h0, self.times, rtol=self.rtol, atol=self.atol, method=self.solver,
                          options=self.options)
        except AssertionError as e:                 # torchdiffeq's other check: the state became inf/NaN
            raise UserError(f"model.solver={self.solver}: {str(e).split(':')[0]} at epoch {self.f.epoch}: "
                            f"training diverged; lower optimizer.lr") from None

    def write_artifacts(self, run_dir: Path, data) -> None:
        """task=trajectory: trajectories.png, test trajectories true vs learned and the learned vector field."""
        if self.task == "trajectory":
            plot_trajectories(self, data.test, Path(run_dir) / "trajectories.png")


@torch.no_grad()
def plot_trajectories(model: NeuralODE, split, path: Path, n: int = 12) -> Path | None:
    """Phase plane of up to `n` test trajectories (true solid, learned dashed) and the learned field at t=0."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        import logging

        logging.getLogger("mlrun").warning("matplotlib is not installed: no %s (pip install 'mlrun-classic[plot]')",
                                           path.name)
        return None
    was_training = model.training
    model.eval()
    idx = torch.linspace(0, len(split) - 1, min(n, len(split))).long().to(split.x.device)
    true, learned = split.y[idx].cpu(), model(split.x[idx]).cpu()            # (n, T, 2)
    lo, hi = split.y.amin((0, 1)).cpu() - 0.2, split.y.amax((0, 1)).cpu() + 0.2
    g0, g1 = torch.meshgrid(torch.linspace(lo[0], hi[0], 21), torch.linspace(lo[1], hi[1], 21), indexing="ij")
    grid = torch.stack([g0.reshape(-1), g1.reshape(-1)], 1).to(split.x.device)           # (441, 2)
    field = model.f(model.times[0], grid).cpu()
    model.train(was_training)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 5))
    for k in range(len(idx)):
        ax1.plot(true[k, :, 0], true[k, :, 1], "g-", lw=1.5, label="true" if k == 0 else None)
        ax1.plot(learned[k, :, 0], learned[k, :, 1], "b--", lw=1.5, label="learned" if k == 0 else None)
    ax1.set(title=f"test trajectories ({len(idx)} of {len(split)})", xlabel="y1", ylabel="y2")
    ax1.legend()
    norm = field.norm(dim=1, keepdim=True).clamp_min(1e-9)
    ax2.quiver(grid[:, 0].cpu(), grid[:, 1].cpu(), *(field / norm).T, norm[:, 0], cmap="viridis")
    ax2.set(title="learned dynamics f(y) (direction; colour = speed)", xlabel="y1", ylabel="y2")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
