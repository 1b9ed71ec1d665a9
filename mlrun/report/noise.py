"""Seed noise in rankings: runs that differ only by seed (or fold) form a group (mean ± std); each group is compared
with the best one by Welch's t-test (paired when both groups ran the same seeds), and called "significant" or
"within noise", with the seeds per group that would settle a close call.

    groups = seed_groups(runs, values, labels)          # [Group(label, values, seeds)], best first
    verdicts(groups, higher=True)                        # [{"group", "n", "mean", "std", "p", "verdict", ...}]

Choices: α = 0.05 two-sided; "seeds to settle" is the per-group n at which a difference of the size observed,
with the spread observed, would be found with 80 % power (normal approximation: n = 2 (z₀.₉₇₅ + z₀.₈)² s² / d²).
scipy's t distribution when scipy imports (`mlrun-classic[vision]`/dev), else the regularised incomplete beta
below (Numerical Recipes' continued fraction), which agrees with scipy to 1e-10.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

ALPHA = 0.05                            # two-sided significance level
Z_ALPHA, Z_POWER = 1.959964, 0.841621   # z quantiles at 0.975 and 0.80
SEED_KEYS = ("seed", "dataset.seed", "dataset.fold", "fold")     # settings that only change the draw
MAX_SEEDS = 1000                        # "seeds to settle" above this: "more than 1000" (the difference is ~0)


@dataclass
class Group:
    label: str                          # the settings the runs share ("optimizer.lr=0.01"), or the path
    values: list[float]                 # the metric of each run
    seeds: list = field(default_factory=list)     # each run's seed (None when not known), for pairing
    runs: list[int] = field(default_factory=list)  # the runs' positions in the table


def seed_key(key: str) -> bool:
    return key in SEED_KEYS or key.endswith(".seed")


def seed_groups(labels: list[str], values: list[float], seeds: list) -> list[Group]:
    """Runs with the same label (their settings without the seed keys) as groups, in first-seen order; runs
    whose metric is missing (failed) or not a finite number (a tampered summary.json: Infinity) are left out."""
    groups: dict[str, Group] = {}
    for i, (label, value, seed) in enumerate(zip(labels, values, seeds)):
        try:
            if isinstance(value, bool) or not math.isfinite(float(value)):
                continue
        except (TypeError, ValueError):
            continue
        g = groups.setdefault(label, Group(label, [], []))
        g.values.append(float(value))
        g.seeds.append(seed)
        g.runs.append(i)
    return list(groups.values())


def verdicts(groups: list[Group], higher: bool) -> list[dict]:
    """Each group (best mean first) with n, mean, std and how it stands against the best group."""
    ranked = sorted(groups, key=lambda g: statistics.fmean(g.values), reverse=higher)
    best = ranked[0] if ranked else None
    out = []
    for g in ranked:
        row = {"group": g.label, "n": len(g.values), "mean": statistics.fmean(g.values),
               "std": statistics.stdev(g.values) if len(g.values) > 1 else math.nan}
        out.append(row | (_versus(g, best) if g is not best else {"verdict": "best"}))
    return out


def _versus(g: Group, best: Group) -> dict:
    test = compare(best.values, g.values, best.seeds, g.seeds)
    if test["p"] is None:
        return {"verdict": "cannot tell (need ≥ 2 runs in each group)", "p": None}
    verdict = "significant" if test["p"] < ALPHA else "within noise"
    out = {"verdict": verdict, "p": test["p"], "test": test["test"], "delta": test["delta"]}
    if verdict == "within noise":
        out["seeds_to_settle"] = test["seeds_to_settle"]
    return out


def compare(a: list[float], b: list[float], seeds_a=(), seeds_b=()) -> dict:
    """{"delta": mean(b) − mean(a), "p", "test": "paired t" | "Welch t", "seeds_to_settle"}; p is None when a
    group has fewer than 2 values. Paired when both groups ran the same distinct seeds (matched by seed)."""
    delta = statistics.fmean(b) - statistics.fmean(a) if a and b else math.nan
    if len(a) < 2 or len(b) < 2:
        return {"delta": delta, "p": None, "test": None, "seeds_to_settle": None}
    pa, pb = dict(zip(seeds_a, a)), dict(zip(seeds_b, b))
    paired = None not in pa and set(pa) == set(pb) and len(pa) == len(a) == len(b)
    if paired:
        diffs = [pb[s] - pa[s] for s in pa]
        p, spread = paired_p(diffs), statistics.stdev(diffs) / math.sqrt(2)
    else:
        p = welch_p(a, b)
        spread = math.sqrt((statistics.variance(a) + statistics.variance(b)) / 2)
    return {"delta": delta, "p": p, "test": "paired t" if paired else "Welch t",
            "seeds_to_settle": seeds_to_settle(delta, spread)}


def seeds_to_settle(delta: float, spread: float) -> int:
    """Runs per group for 80 % power at α = 0.05 to find a difference `delta` given a per-run std `spread`."""
    if spread == 0:
        return 2
    if delta == 0 or not math.isfinite(delta):
        return MAX_SEEDS + 1
    return min(MAX_SEEDS + 1, max(2, math.ceil(2 * (Z_ALPHA + Z_POWER) ** 2 * spread ** 2 / delta ** 2)))


def welch_p(a: list[float], b: list[float]) -> float:
    """Two-sided p of Welch's t-test (unequal variances)."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return 1.0 if statistics.fmean(a) == statistics.fmean(b) else 0.0
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return t_two_sided(t, df)


def paired_p(diffs: list[float]) -> float:
    sd = statistics.stdev(diffs)
    mean = statistics.fmean(diffs)
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    return t_two_sided(mean / (sd / math.sqrt(len(diffs))), len(diffs) - 1)


def t_two_sided(t: float, df: float) -> float:
    """P(|T| ≥ |t|) for Student's t with `df` degrees of freedom."""
    try:
        from scipy.stats import t as student     # optional: the closed form below needs no scipy
        return float(2 * student.sf(abs(t), df))
    except ImportError:
        return _betainc(df / 2, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes §6.4)."""
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1 - x)
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + num / (c if abs(c) > 1e-300 else 1e-300)
        f *= c * d
        if abs(1.0 - c * d) < 1e-14:
            break
    return front * (f - 1.0) / a


def describe(row: dict, digits: int = 4) -> str:
    """One line for a group's verdict: "within noise (Welch t, p = 0.41; ~12 seeds per group would settle it)"."""
    if row["verdict"] == "best" or row.get("p") is None:
        return row["verdict"]
    text = f"{row['verdict']} ({row['test']}, p = {row['p']:.2g}"
    if row["verdict"] == "within noise":
        n = row["seeds_to_settle"]
        text += f"; {'more than 1000' if n > MAX_SEEDS else f'~{n}'} seeds per group would settle it"
    return text + ")"


def mean_std(row: dict, digits: int = 4) -> str:
    return f"{row['mean']:.{digits}g}" + ("" if math.isnan(row["std"]) else f" ± {row['std']:.2g}")
