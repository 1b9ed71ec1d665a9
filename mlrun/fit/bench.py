"""`mlrun bench`: the same experiment on each available device and each given value, side by side.

    mlrun bench experiment=smoke trainer.batch_size=64,512          # CPU rows (+ CUDA rows when available)
    mlrun bench model=mlp model.hidden=[256,256] trainer.batch_size=64,512 steps=300 epochs=5 target=0.95
    mlrun bench devices=cpu out=bench_cpu                               # one device; the table goes to bench_cpu/

Each row builds the run exactly as `mlrun train` does (mlrun.fit.build.assemble, mlrun.fit.loop's step and fit), then:
  - throughput: `warmup` untimed steps, then `repeats` blocks of `steps` timed steps → the median samples/s, ms per
    step, and the spread (max − min over the blocks, in % of the median); a spread above SPREAD_FLAG % is flagged
    (a busy machine, or too few steps: the same row once read 1,476 then 53,586 samples/s on two runs);
  - training: `epochs` epochs of `fit` → median epoch time, time to reach `target` on the monitored val metric;
  - speed-up: samples/s over the CPU row with the same values.
Bench keys (anything else is a config override; commas sweep like `mlrun train -m`):
  steps=200  warmup=20  repeats=3  epochs=3  target=0.9  devices=auto (cpu,cuda when available)
  out=outputs/bench/<time>
Writes <out>/bench.csv and <out>/bench.png (when matplotlib is installed) and prints the table.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import math
import statistics
import time
from pathlib import Path

import torch
from hydra.core.override_parser.overrides_parser import OverridesParser

from mlrun.config.compose import compose
from mlrun.errors import UserError, check
from mlrun.fit.build import Parts, assemble
from mlrun.fit.loop import fit
from mlrun.metrics.tasks import HIGHER_IS_BETTER

BENCH_KEYS = {"steps": 200, "warmup": 20, "repeats": 3, "epochs": 3, "target": 0.9, "devices": "auto", "out": None}
COLUMNS = ("device", "overrides", "batch_size", "samples_per_second", "samples_per_second_min",
           "samples_per_second_max", "spread_pct", "repeats", "step_ms", "epoch_seconds", "time_to_target_s",
           "best_val", "metric", "speedup_vs_cpu")
SPREAD_FLAG = 20.0          # percent of the median: a row whose repeats spread wider than this is flagged


def prepare(cfg, data=None) -> Parts:
    """Every part of a run built from a composed config by mlrun.fit.build (the one build order; no outputs).
    `data`: a ready `Data` to use instead of building `cfg.dataset` (benchmarks on files mlrun has no option for)."""
    return assemble(cfg, data=data)


def fit_records(run: Parts, epochs: int | None = None) -> list[dict]:
    """`mlrun.fit.loop.fit` on prepared parts, without early stopping; the per-epoch records."""
    plan = dataclasses.replace(run.plan, epochs=epochs or run.plan.epochs, patience=0)
    return [record for record, _ in fit(plan)]


def throughput(run: Parts, steps: int, warmup: int) -> float:
    """Samples per second of the plan's step over `steps` steps after `warmup` (one block of `rates`)."""
    return rates(run, steps, warmup, 1)[0]


def rates(run: Parts, steps: int, warmup: int, repeats: int) -> list[float]:
    """Samples per second of the plan's step, once per repeat, each over `steps` steps, after `warmup` untimed
    ones, fed as `fit` feeds it (contiguous slices of the on-device train split, or the host `Stream`); each clock
    stops after the device has finished."""
    plan = run.plan

    def batches():
        x, y, bs = plan.train.x, plan.train.y, plan.batch_size
        while True:
            yield from plan.stream if plan.stream is not None else (
                (x[s:s + bs], y[s:s + bs]) for s in range(0, len(y) - bs + 1, bs))

    feed = batches()

    def go(n: int) -> int:
        total, seen = torch.zeros((), device=run.device), 0
        for _ in range(n):
            xb, yb = next(feed)
            total += plan.step(xb, yb)
            seen += len(yb)
        float(total)                               # waits for the device
        return seen

    go(warmup)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        seen = go(steps)
        rates.append(seen / (time.perf_counter() - start))
    return rates


def spread(rates: list[float]) -> dict:
    """The median of repeated samples/s and their spread: min, max, (max − min) / median in percent."""
    middle = statistics.median(rates)
    return {"samples_per_second": middle, "samples_per_second_min": min(rates),
            "samples_per_second_max": max(rates), "spread_pct": 100 * (max(rates) - min(rates)) / middle,
            "repeats": len(rates)}


def time_to_target(records: list[dict], metric: str, target: float) -> float:
    """Training + validation seconds until the monitored val metric first reaches `target` (NaN: never)."""
    higher, elapsed = HIGHER_IS_BETTER[metric], 0.0
    for r in records:
        elapsed += r["epoch_seconds"]
        v = r[f"val_{metric}"]
        if not math.isnan(v) and (v >= target if higher else v <= target):
            return elapsed
    return math.nan


def expand(overrides: list[str]) -> list[list[str]]:
    """Cartesian product of sweep overrides (`key=a,b`), like `mlrun train -m`."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    options = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
               else [text] for text, o in zip(overrides, parsed)]
    return [list(combo) for combo in itertools.product(*options)]


def devices(choice: str) -> tuple[list[str], str | None]:
    """(device types to run, a note when CUDA is unavailable)."""
    check(choice in ("auto", "cpu", "cuda", "cpu,cuda"), "devices", choice, "valid choices are auto, cpu, cuda, cpu,cuda")
    if torch.cuda.is_available():
        return (["cpu", "cuda"] if choice in ("auto", "cpu,cuda") else [choice]), None
    why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
    if choice in ("cuda", "cpu,cuda"):
        raise UserError(f"devices={choice}: CUDA is not available ({why}); valid choices here: auto, cpu")
    return ["cpu"], f"CUDA is unavailable ({why}): CPU rows only"


def bench(overrides: list[str], steps: int = 200, warmup: int = 20, epochs: int = 3, target: float = 0.9,
          device_choice: str = "auto", log=print, repeats: int = 3) -> list[dict]:
    """One row per device × swept combination (see the module docstring)."""
    kinds, note = devices(device_choice)
    if note:
        log(note)
    rows = []
    for kind in kinds:
        for combo in expand(overrides):
            cfg = compose([*combo, f"device={kind}", f"trainer.epochs={epochs}"])
            run = prepare(cfg)
            measured = spread(rates(run, steps, warmup, repeats))
            sps = measured["samples_per_second"]
            records = fit_records(prepare(cfg))            # fresh weights: the fit starts where a run would
            metric = run.spec.metric
            values = [r[f"val_{metric}"] for r in records]
            rows.append({
                "device": str(run.device), "overrides": " ".join(combo), "batch_size": run.plan.batch_size,
                **measured, "step_ms": 1000 * run.plan.batch_size / sps,
                "epoch_seconds": sorted(r["epoch_seconds"] for r in records)[len(records) // 2],
                "time_to_target_s": time_to_target(records, metric, target),
                "best_val": (max if HIGHER_IS_BETTER[metric] else min)(values), "metric": metric})
            log(f"{rows[-1]['device']:<7} {rows[-1]['overrides']:<40} {sps:>12,.0f} samples/s (median of {repeats}, "
                f"spread {measured['spread_pct']:.0f} %)")
    cpu = {r["overrides"]: r["samples_per_second"] for r in rows if r["device"] == "cpu"}
    for r in rows:
        r["speedup_vs_cpu"] = r["samples_per_second"] / cpu[r["overrides"]] if r["overrides"] in cpu else math.nan
    return rows


def write(rows: list[dict], out: Path, target: float) -> list[Path]:
    """bench.csv (+ bench.png with matplotlib) in `out`; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bench.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    written = [out / "bench.csv"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [f"{r['device']}\n{r['overrides']}" for r in rows]
    ax.barh(range(len(rows)), [r["samples_per_second"] for r in rows])
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_xlabel("samples / s (training step)")
    ax.set_title(f"mlrun bench (time to val ≥ {target:g} in bench.csv)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "bench.png", dpi=120)
    plt.close(fig)
    return [*written, out / "bench.png"]


def format_table(rows: list[dict], target: float | None = None) -> str:
    """The printed table: only measured numbers (a target never reached shows "not reached", with a note), the
    spread of the repeated samples/s (flagged "!" above SPREAD_FLAG %), and a speed-up column only when there are
    rows of another device to compare with the CPU's."""
    devices = {r["device"].split(":")[0] for r in rows}
    speedup = len(devices) > 1
    head = f"{'device':<7} {'overrides':<40} {'samples/s':>12} {'spread':>8} {'ms/step':>8} {'epoch s':>8} " \
           f"{'to target s':>12} {'best val':>9}" + (f" {'× cpu':>7}" if speedup else "")
    lines = [head, "-" * len(head)]
    for r in rows:
        reached = r["time_to_target_s"]
        to_target = "not reached" if math.isnan(reached) else f"{reached:.3f}"
        wide = r.get("spread_pct", 0.0) > SPREAD_FLAG
        shown = f"±{r['spread_pct'] / 2:.0f}%" + ("!" if wide else " ") if "spread_pct" in r else ""
        line = (f"{r['device']:<7} {r['overrides'][:40]:<40} {r['samples_per_second']:>12,.0f} {shown:>8} "
                f"{r['step_ms']:>8.3f} {r['epoch_seconds']:>8.3f} {to_target:>12} {r['best_val']:>9.4f}")
        if speedup:
            line += f" {r['speedup_vs_cpu']:>7.2f}" if not math.isnan(r["speedup_vs_cpu"]) else f" {'':>7}"
        lines.append(line)
    n = rows[0].get("repeats", 1) if rows else 1
    lines.append(f"samples/s: the median of {n} repeats; spread: ± half of (max − min), in % of the median")
    if any(r.get("spread_pct", 0.0) > SPREAD_FLAG for r in rows):
        lines.append(f"! repeats spread over {SPREAD_FLAG:g} % of the median: the machine was busy or the blocks "
                     f"too short; do not trust that row's samples/s; raise steps= or repeats=, or rerun when idle")
    if any(math.isnan(r["time_to_target_s"]) for r in rows):
        metric = rows[0]["metric"]
        lines.append(f"not reached: val_{metric} stayed below target={target if target is not None else '?'} in "
                     f"the epochs run (raise epochs= or lower target=)")
    if not speedup:
        lines.append("one device: no speed-up column (CUDA rows appear beside the CPU's when CUDA is available)")
    return "\n".join(lines)
