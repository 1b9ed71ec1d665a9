"""Peak host memory (RSS) of one training step of the conv ODE-Net, adjoint vs direct backprop, as the
integration time t1 grows (fixed-grid rk4, step 0.25: 16·t1 function evaluations per forward pass).

    OMP_NUM_THREADS=1 python experiments/neural_ode/memory.py

Each point runs in a fresh process: peak RSS (ru_maxrss) minus the RSS just before the step.
"""

import json
import subprocess
import sys

CHILD = """
import json, resource, sys, torch
from mlrun.datasets.spec import DataSpec
from mlrun.models import NeuralODE
t1, adjoint = float(sys.argv[1]), sys.argv[2] == "true"
torch.manual_seed(0)
model = NeuralODE(DataSpec((1, 28, 28), 10, "multiclass"), solver="rk4", step_size=0.25, t1=t1, adjoint=adjoint)
x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
before = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20
torch.nn.functional.cross_entropy(model(x), y).backward()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"t1": t1, "adjoint": adjoint, "step_mb": peak - before, "peak_mb": peak,
                  **model.epoch_metrics()}))
"""

if __name__ == "__main__":
    print("| t1 | NFE fwd / bwd | direct: step MiB (peak) | adjoint: step MiB (peak) |")
    print("|---|---|---|---|")
    for t1 in (1, 2, 4, 8):
        res = {a: json.loads(subprocess.run([sys.executable, "-c", CHILD, str(t1), a], capture_output=True,
                                            text=True, check=True).stdout) for a in ("false", "true")}
        d, a = res["false"], res["true"]
        print(f"| {t1} | {d['nfe_forward']:.0f} / {d['nfe_backward']:.0f} | {d['step_mb']:.0f} ({d['peak_mb']:.0f}) "
              f"| {a['step_mb']:.0f} ({a['peak_mb']:.0f}) |", flush=True)
