"""`mlrun report --html`: one self-contained report.html (no network, every asset inline; opens from file://).

Sections: the seed groups (mean ± std, significant or within noise), the run table (click a header to sort,
type in the box to filter), the learning curves (one chart per metrics.csv column, runs overlaid), the metric
against each setting that differs (seeds averaged, ± std), parallel coordinates of the settings against the metric
(sweeps and searches), Optuna's parameter importances when an optuna.db of the study is found beside the runs
(optuna installed), and each run's provenance (versions, command, code, data fingerprints).

Charts are inline SVG (mlrun.report.svg), the table's sorting and filtering ~40 lines of JavaScript below: a
50-run sweep is ~200 KB. Every text from a run folder is HTML-escaped.
"""

from __future__ import annotations

import math
import statistics
from html import escape
from pathlib import Path

from mlrun.report import noise, provenance, svg
from mlrun.report.compare import CURVE_SKIP, seed_verdicts, settings
from mlrun.report.table import higher_is_better, is_missing, is_number, monitor_column

STYLE = """body{font:14px sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}th{background:#f3f3f3;cursor:pointer;user-select:none}
td.t{text-align:left}th[data-dir=asc]:after{content:" \\25B2"}th[data-dir=desc]:after{content:" \\25BC"}
.charts{display:flex;flex-wrap:wrap;gap:12px}details{margin:.3em 0}pre{margin:.2em 0 .2em 1em;white-space:pre-wrap}
.bad{color:#b00}.note{color:#666}"""

SCRIPT = """
function cellValue(row, i) {
  const td = row.cells[i];
  if (!td) return null;
  const v = td.getAttribute('data-v');
  if (v !== null) return Number(v);
  const t = td.textContent.trim();
  return t === '' ? null : t;
}
function sortTable(th) {
  const table = th.closest('table'), i = th.cellIndex, body = table.tBodies[0];
  const asc = th.getAttribute('data-dir') !== 'asc';
  for (const other of th.parentNode.cells) other.removeAttribute('data-dir');
  th.setAttribute('data-dir', asc ? 'asc' : 'desc');
  const rows = Array.from(body.rows);
  rows.sort(function (a, b) {
    const x = cellValue(a, i), y = cellValue(b, i);
    if (x === null || y === null) return (x === null) - (y === null);      // blanks last
    const c = (typeof x === 'number' && typeof y === 'number') ? x - y
      : String(x).localeCompare(String(y), undefined, {numeric: true});
    return asc ? c : -c;
  });
  for (const r of rows) body.appendChild(r);
}
function filterRows(text) {
  const terms = text.toLowerCase().split(/\\s+/).filter(Boolean);
  for (const r of document.querySelectorAll('#runs tbody tr'))
    r.hidden = !terms.every(t => r.textContent.toLowerCase().includes(t));
}
document.querySelectorAll('table.sortable th').forEach(th => th.addEventListener('click', () => sortTable(th)));
document.getElementById('filter').addEventListener('input', e => filterRows(e.target.value));
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"   # the page
#   may load nothing from anywhere: no network, whatever a run folder holds
SETTINGS_SHOWN = 6                  # metric-vs-setting charts (the first settings that differ)


def _cell(v) -> str:
    if is_missing(v):
        return "<td></td>"
    if is_number(v):
        shown = str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{float(v):.4g}"
        return f'<td data-v="{float(v)!r}">{shown}</td>'
    return f'<td class="t">{escape(str(v)[:300])}</td>'


def run_table(df) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>\n" for r in df.itertuples(index=False))
    return (f'<input id="filter" placeholder="filter rows: words that must all appear" size="50">'
            f'<table id="runs" class="sortable"><thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table>')


def groups_table(rows: list[dict], metric: str) -> str:
    if not rows:
        return ""
    body = "".join(f'<tr><td class="t">{escape(r["group"])}</td><td>{r["n"]}</td>'
                   f'<td>{escape(noise.mean_std(r))}</td><td class="t">{escape(noise.describe(r))}</td></tr>'
                   for r in rows)
    return (f"<h2>Seed groups</h2><p class=note>Runs that differ only by seed, ranked by {escape(metric)}; each "
            f"group against the best by Welch's t-test (paired when the seeds match), α = 0.05.</p>"
            f'<table class="sortable"><thead><tr><th>group</th><th>n</th><th>mean ± std</th><th>against the best'
            f"</th></tr></thead><tbody>{body}</tbody></table>")


def curve_charts(runs: list[dict], labels: list[str]) -> list[str]:
    columns = dict.fromkeys(c for r in runs if r["metrics"] is not None for c in r["metrics"] if c not in CURVE_SKIP)
    charts = []
    for column in columns:
        series = [(label, list(r["metrics"]["epoch"]), list(r["metrics"][column])) for r, label in zip(runs, labels)
                  if r["metrics"] is not None and column in r["metrics"]]
        chart = svg.lines(series, column, "epoch", column)
        charts += [chart] if chart else []
    return charts


def setting_charts(df, keys: list[str], metric: str) -> list[str]:
    """The metric's mean ± std (over seeds and the other settings) against each setting that differs."""
    charts = []
    for key in [k for k in keys if k in df.columns and not noise.seed_key(k)][:SETTINGS_SHOWN]:
        by: dict = {}
        for value, m in zip(df[key], df[metric]):
            if is_number(m) and not math.isnan(m) and not is_missing(value):
                by.setdefault(value, []).append(float(m))
        if len(by) < 2:
            continue
        xs = list(by)
        chart = svg.points(xs, [statistics.fmean(by[x]) for x in xs],
                           [statistics.stdev(by[x]) if len(by[x]) > 1 else math.nan for x in xs],
                           f"{metric} vs {key}", key, metric)
        charts += [chart] if chart else []
    return charts


def parallel_chart(df, keys: list[str], metric: str) -> str | None:
    dims = [(k, [None if is_missing(v) else v for v in df[k]]) for k in keys
            if k in df.columns and not noise.seed_key(k)]
    if not dims or len(df) < 3:
        return None
    rows = [i for i in range(len(df)) if all(col[i] is not None for _, col in dims)]
    values = [float(df[metric].iloc[i]) if is_number(df[metric].iloc[i]) else math.nan for i in rows]
    return svg.parallel([(n, [col[i] for i in rows]) for n, col in dims], metric, values,
                        higher_is_better(metric) is not False)


def provenance_section(runs: list[dict], names: list[str]) -> str:
    first = provenance.of(runs[0]["summary"])
    out = ["<h2>Provenance</h2>"]
    for run, name in zip(runs, names):
        p = provenance.of(run["summary"])
        brief = provenance.brief(p)
        diffs = provenance.differences(first, p, ("the first run", "this run")) if run is not runs[0] else []
        lines = [f"{k}: {v}" for k, v in brief.items() if k != "data" and v not in (None, "")]
        lines += [f"data: {d}" for d in brief["data"]]
        flag = f' <span class=bad>({len(diffs)} differences from the first run)</span>' if diffs else ""
        out.append(f"<details><summary>{escape(name)}{flag}</summary><pre>" + escape("\n".join(lines)) +
                   ("\n\nagainst the first run:\n" + escape("\n".join(diffs)) if diffs else "") + "</pre></details>")
    return "\n".join(out)


def optuna_section(paths: list[str]) -> str:
    """Optuna's parameter importances of each study in an optuna.db at or above the PATHs (optional)."""
    db = next((d / "optuna.db" for p in paths for d in [Path(p).resolve(), *list(Path(p).resolve().parents)[:3]]
               if (d / "optuna.db").is_file()), None)
    if db is None:
        return ""
    try:
        import optuna                           # optional (mlrun-classic[sweep]); the report works without it
    except ImportError:
        return f"<p class=note>{escape(str(db))}: pip install optuna to see its parameter importances</p>"
    charts = []
    try:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = f"sqlite:///{db}"
        for summary in optuna.get_all_study_summaries(storage):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            if len(done) < 3 or not done[0].params:
                continue
            found = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.MeanDecreaseImpurityImportanceEvaluator())
            chart = svg.bars(list(found), list(found.values()), f"{summary.study_name}: parameter importances")
            charts += [chart] if chart else []
    except Exception as e:  # noqa: BLE001 - a study db of another Optuna version, locked, corrupt: one note
        return f"<p class=note>{escape(str(db))}: parameter importances not shown ({escape(type(e).__name__)}: " \
               f"{escape(str(e)[:200])})</p>"
    return "<h2>Parameter importances (Optuna)</h2><div class=charts>" + "".join(charts) + "</div>" if charts else ""


def page(df, runs: list[dict], keys: list[str], paths: list[str], skipped: list[str] = ()) -> str:
    """The whole report.html."""
    metric = monitor_column(df)
    names = list(df["run"]) if "run" in df.columns else [str(r["dir"]) for r in runs]
    groups = seed_verdicts(runs, [settings(r) for r in runs], keys, metric, several_sides=False) if metric else []
    parts = [f"<h1>mlrun report</h1><p>{len(df)} run{'s' * (len(df) != 1)} under "
             f"{escape(', '.join(paths))}</p>"]
    if skipped:
        parts.append("<p class=bad>Skipped (files that cannot be used):</p><ul>" +
                     "".join(f"<li>{escape(s)}</li>" for s in skipped) + "</ul>")
    parts.append(groups_table(groups, metric or ""))
    parts.append("<h2>Runs</h2>" + run_table(df))
    curves = curve_charts(runs, names)
    if curves:
        parts.append("<h2>Learning curves</h2><div class=charts>" + "".join(curves) + "</div>")
    if metric:
        vs = setting_charts(df, keys, metric)
        if vs:
            parts.append(f"<h2>{escape(metric)} against the settings</h2><div class=charts>" + "".join(vs) + "</div>")
        par = parallel_chart(df, keys, metric)
        if par:
            parts.append("<h2>Parallel coordinates</h2>" + par)
    parts.append(optuna_section(paths))
    parts.append(provenance_section(runs, names))
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>mlrun report</title>"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(p for p in parts if p) +
            f"\n<script>{SCRIPT}</script></body></html>\n")
