"""The table as printed on a terminal: at most WIDTH (or the terminal's) characters a line, shared values said
once above it, published references said once or marked [n], long text cut, the least important columns left out
and named below; and the sweep's table printed when `mlrun train -m` ends."""

from __future__ import annotations

import numbers
from pathlib import Path

from mlrun.errors import UserError
from mlrun.report.runs import load_runs
from mlrun.report.table import best_first, build_table, is_missing, is_number, monitor_column

WIDTH = 120                 # characters: the printed table fits a terminal this wide (--wide: no limit)
TEXT_MAX = 32               # characters of a text cell in the printed table (runs.csv keeps the whole text)
REF_IDENTITY = ("ref_model", "ref_published_test_error", "ref_source", "ref_note", "reference")  # what a ref is
REF_HIDDEN = ("ref_family", "ref_match", "ref_units", "ref_test_error")   # runs.csv only (test_error = 100·(1−acc))


def _text(v) -> str:
    if is_missing(v):
        return ""
    if is_number(v):
        return str(int(v)) if isinstance(v, numbers.Integral) else f"{float(v):.4g}"
    return " ".join(str(v).split())


def cut(text: str, limit: int, keep_end: bool = False) -> str:
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1):] if keep_end else text[:limit - 1] + "…"


def _rank(column: str, keys: list[str], monitor: str | None, sort: str | None = None) -> int:
    """How much a column matters in the printed table: columns are taken by rank (lowest first) while they fit;
    the column the table is sorted by is always shown."""
    if column == sort:
        return 1
    fixed = {"run": 0, monitor: 1, "status": 2, "test_" + (monitor or "").removeprefix("val_"): 3, "error": 5,
             "ref": 7, "ref_difference": 7, "val_loss": 8, "train_loss": 8, "best_epoch": 9, "epochs": 9,
             "seconds": 10, "samples_per_s": 11, "device": 12}
    if column in fixed:
        return fixed[column]
    if column in keys:
        return 4                        # the settings that differ, in their order, as many as fit
    return 6 if column.startswith(("val_", "test_")) else 13


def _references(df) -> tuple[list[str], list[str]]:
    """Each row's reference as one line of text ("" for none) and the distinct texts in first-seen order."""
    texts = []
    for _, r in df.iterrows():
        get = {c: _text(r[c]) for c in REF_IDENTITY if c in df.columns}
        if get.get("ref_model"):
            text = f"{get['ref_model']}: {get.get('ref_published_test_error', '?')} % test error"
            text += f" ({get['ref_source']})" if get.get("ref_source") else ""
            text += f"; note: {get['ref_note']}" if get.get("ref_note") else ""
        else:
            text = get.get("reference", "")
        texts.append(text)
    return texts, list(dict.fromkeys(t for t in texts if t))


def _wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [""]


def compact(df, keys: list[str] = (), width: int | None = WIDTH, sort: str | None = None) -> str:
    """The table as printed: at most `width` characters a line (None: no limit, every column).

    Values shared by every run are said once above the table, the published reference once when the runs share
    it (else a [n] mark per row and the references below), long text is cut with "…", and when the columns still
    do not fit, the least important ones (speed, device, epochs, losses, ...) are left out and named below.
    runs.csv keeps every column in full. `sort`: the column the rows are sorted by, shown first after `run`
    (even where most runs have no value in it: runs of mixed tasks)."""
    if df.empty:
        return "(no runs)"
    if width is None:
        return _full(df)
    keys, monitor = list(keys), monitor_column(df)
    df, distinct, cells = _shown_cells(df)
    if len(df) == 1:                                                     # one run: a column per line
        name_w = max(map(len, cells))
        lines = [f"{c:<{name_w}}  {cut(v[0], max(width - name_w - 2, 8))}" for c, v in cells.items()]
        return "\n".join(_reference_lines(distinct, "ref_difference" in cells, width) + lines)
    shared = {c: v[0] for c, v in cells.items() if c != "run" and len(set(v)) == 1}
    columns = [c for c in cells if c not in shared]
    numeric = {c: all(is_number(v) for v in df[c] if not is_missing(v)) for c in columns}
    chosen = _fit(columns, cells, numeric, sorted(columns, key=lambda c: _rank(c, keys, monitor, sort)), width)
    columns = [c for c in columns if c in chosen]                           # in the table's own order
    if sort in columns:                                                     # the sorted column right after `run`
        columns.remove(sort)
        columns.insert(1 if columns[:1] == ["run"] else 0, sort)
    lines = _grid(columns, [chosen[c] for c in columns], numeric, len(df))
    head = _wrap("shared by all runs: " + "  ".join(f"{c}={cut(v, 60)}" for c, v in shared.items()), width) \
        if shared else []
    hidden = [c for c in cells if c not in shared and c not in columns]
    foot = _wrap(f"not shown to fit {width} columns: {', '.join(hidden)} (--wide prints every column; runs.csv "
                 f"has them all)", width) if hidden else []
    if "error" in hidden:                           # the errors did not fit as a column: one line per failed run
        foot = _failed_lines(cells, len(df), width) + foot
    refs = _reference_lines(distinct, "ref_difference" in columns or "ref_difference" in shared, width)
    return "\n".join((refs + head + lines if len(distinct) == 1 else head + lines + refs) + foot)


def _full(df) -> str:
    """--wide: every column in full, pandas' layout."""
    import pandas as pd

    with pd.option_context("display.max_columns", None, "display.expand_frame_repr", False,
                           "display.max_colwidth", None):
        return df.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")


def _shown_cells(df) -> tuple:
    """(the table without the reference's own columns, the distinct references, {column: cell texts}) where
    several references get a `ref` column of [n] marks; empty columns are left out."""
    refs, distinct = _references(df)
    df = df.drop(columns=[c for c in (*REF_IDENTITY, *REF_HIDDEN) if c in df.columns])
    if len(distinct) > 1:                              # runs compared with different references: [n] marks
        at = list(df.columns).index("ref_difference") if "ref_difference" in df.columns else len(df.columns)
        df.insert(at, "ref", [f"[{distinct.index(t) + 1}]" if t else "" for t in refs])
    cells = {c: [_text(v) for v in df[c]] for c in df.columns}
    return df, distinct, {c: v for c, v in cells.items() if any(v)}


def _fit(columns: list[str], cells: dict, numeric: dict, ranked: list[str], width: int) -> dict:
    """{column: its cells as shown} for the columns taken, most important first, while they fit in `width`;
    text is cut to TEXT_MAX (errors 2×, run names from the left), or to the room left."""
    chosen: dict[str, list[str]] = {}
    used = -2                                        # two spaces between columns
    for c in ranked:                                 # stable: settings in their order
        shown = [cut(v, 2 * TEXT_MAX if c == "error" else TEXT_MAX, keep_end=c == "run") for v in cells[c]]
        room = width - used - 2
        if max(len(c), *map(len, shown)) > room and not numeric[c] and room >= max(len(c), 12):
            shown = [cut(v, room, keep_end=c == "run") for v in shown]      # text cut to the room left
        if max(len(c), *map(len, shown)) <= room or not chosen:
            chosen[c] = shown
            used += max(len(c), *map(len, shown)) + 2
    return chosen


def _grid(columns: list[str], shown: list[list[str]], numeric: dict, n_rows: int) -> list[str]:
    """Header and rows, numbers right-aligned, text left-aligned, two spaces apart."""
    widths = [max(len(c), *map(len, vs)) for c, vs in zip(columns, shown)]
    lines = ["  ".join(c.rjust(w) if numeric[c] else c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    return lines + ["  ".join(vs[i].rjust(w) if numeric[c] else vs[i].ljust(w)
                              for c, vs, w in zip(columns, shown, widths)).rstrip() for i in range(n_rows)]


def _failed_lines(cells: dict, n_rows: int, width: int) -> list[str]:
    """`<run> failed: <error>` for the first 10 failed runs, cut to `width`."""
    failed = [(r, e) for r, e in zip(cells["run"] if "run" in cells else [""] * n_rows, cells["error"]) if e]
    return [cut(f"{r} failed: {e}", width) for r, e in failed[:10]] + \
        ([f"... and {len(failed) - 10} more failed runs"] if len(failed) > 10 else [])


def _reference_lines(distinct: list[str], difference: bool, width: int) -> list[str]:
    """The published reference once (shared by the runs), or each one after its [n] mark."""
    if len(distinct) == 1:
        return _wrap(f"reference: {distinct[0]}" + ("; ref_difference = the run's test error − that, in points"
                                                    if difference else ""), width)
    lines = [line for i, t in enumerate(distinct, 1) for line in _wrap(f"[{i}] {t}", width, "    ")]
    return lines + (_wrap("ref_difference = the run's test error − its reference's, in points", width)
                    if difference and lines else [])


def terminal_width() -> int:
    """The terminal's width ($COLUMNS or the tty), WIDTH when output is not a terminal; at least 60."""
    import shutil

    return max(60, shutil.get_terminal_size((WIDTH, 24)).columns)


def sweep_table(sweep_dir: Path, width: int | None = WIDTH) -> str:
    """The compact table of a sweep's jobs, best first (printed when `mlrun train -m` ends); "" without runs."""
    try:
        runs, _ = load_runs([str(sweep_dir)])         # unreadable jobs are left out: `mlrun report` names them
    except UserError:
        return ""
    if not runs:
        return ""
    df, keys = build_table(runs, Path(sweep_dir).resolve())
    df, _ = best_first(df, runs)
    return compact(df, keys, width)
