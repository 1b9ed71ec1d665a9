"""`mlrun compare` as printed: a few runs side by side (one column per run, one line per key), more runs as a
table (one row per run, the terminal's width), then provenance differences and the seed groups."""

from __future__ import annotations

from mlrun.report import noise
from mlrun.report.compare import MISSING, VERTICAL_MAX, Comparison, delta, metric_values, monitored, settings
from mlrun.report.console import compact, cut

CELL = 24                   # characters of a value in the side-by-side view


def render(cmp: Comparison, width: int | None = 120) -> str:
    parts = [_side_by_side(cmp) if len(cmp.runs) <= VERTICAL_MAX else _table(cmp, width)]
    parts.append(_provenance(cmp))
    if cmp.groups:
        parts.append(groups_text(cmp.groups, cmp.metric or cmp.runs[0]["summary"].get("monitor") or "metric"))
    return "\n\n".join(p for p in parts if p)


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def _side_by_side(cmp: Comparison) -> str:
    names = [r["name"] for r in cmp.runs]
    lines = [f"{r['name']} = {r['dir']}" for r in cmp.runs]
    every = [settings(r) for r in cmp.runs]
    n_keys = len(dict.fromkeys(k for s in every for k in s))
    if cmp.keys:
        lines += ["", f"config: {len(cmp.keys)} of {n_keys} keys differ (defaults included)"]
        lines += _columns([["key", *names]] + [[k, *(cut(s.get(k, MISSING), CELL) for s in every)] for k in cmp.keys])
    else:
        lines += ["", f"config: the same in all {n_keys} keys"]
    values = [metric_values(r["summary"]) for r in cmp.runs]
    if cmp.metrics:
        head = ["metric", *names, *(f"Δ {n}−A" for n in names[1:])]
        rows = [[m, *(_number(v.get(m)) for v in values), *(delta(values[0].get(m), v.get(m)) for v in values[1:])]
                for m in cmp.metrics]
        lines += ["", "metrics:"] + _columns([head] + rows)
    return "\n".join(lines)


def _number(v) -> str:
    return MISSING if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _table(cmp: Comparison, width: int | None) -> str:
    """One row per run: the keys that differ, the monitored metric and its delta against the first run, tests."""
    import pandas as pd

    rows = []
    first = monitored(cmp.runs[0]["summary"], cmp.metric)
    for run in cmp.runs:
        s, v = settings(run), metric_values(run["summary"])
        value = monitored(run["summary"], cmp.metric)
        rows.append({"run": run["name"], **{k: s.get(k, MISSING) for k in cmp.keys},
                     cmp.metric or "best_val": value, "Δ first": delta(first, value),
                     **{m: v.get(m) for m in cmp.metrics if m.startswith("test_")}})
    head = [f"{len(cmp.runs)} runs; config: {len(cmp.keys)} keys differ"]
    return "\n".join(head) + "\n" + compact(pd.DataFrame(rows), cmp.keys, width)


def _provenance(cmp: Comparison) -> str:
    if not cmp.provenance:
        return "provenance: the same (Python, torch, CUDA, CPU/GPU, packages, code, data files)"
    return provenance_text(cmp.provenance, len(cmp.runs))


def provenance_text(found: list[tuple[str, list[str]]], n_runs: int) -> str:
    """compare.provenance_lines as printed: each difference, with the runs it holds for when there are many."""
    many = n_runs > 2
    lines = ["provenance (against the first run):" if many else "provenance:"]
    for line, names in found:
        who = f"  [{', '.join(names[:5])}{', ...' if len(names) > 5 else ''}]" if many else ""
        lines.append(f"  {line}{who}")
    return "\n".join(lines)


def groups_text(rows: list[dict], metric: str) -> str:
    """The seed groups, best first: n, mean ± std, and the verdict against the best."""
    table = [["group", "n", f"{metric} mean ± std", "against the best"]]
    table += [[cut(r["group"], 48), str(r["n"]), noise.mean_std(r), noise.describe(r)] for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(3)]
    lines = [f"seed groups (runs that differ only by seed), ranked by {metric}:"]
    lines += ["  " + "  ".join([t[0].ljust(widths[0]), t[1].rjust(widths[1]), t[2].ljust(widths[2]), t[3]]).rstrip()
              for t in table]
    return "\n".join(lines)
