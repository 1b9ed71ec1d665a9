"""Small inline SVG charts for the HTML report and `mlrun compare`: lines (learning curves), points (a metric
against a setting), parallel coordinates (a search's settings against its metric) and bars (importances).

Hand-written SVG instead of matplotlib or a bundled charting library: no dependency, ~2 KB per chart, rendered
in milliseconds (matplotlib takes ~0.15 s a figure plus ~0.5 s to import; a bundled library adds 0.2-3 MB to every
file). Every text goes through `escape`; numbers are written with 4 significant digits.
"""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")                                    # matplotlib's tab10
GREY = "#bbbbbb"                                         # runs past the legend's first LEGEND_MAX
LEGEND_MAX = 10
W, H = 520, 300                                          # pixels of a chart
LEFT, RIGHT, TOP, BOTTOM = 60, 150, 28, 40               # margins: axis labels left/bottom, legend right


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if step * m >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _num(v: float) -> str:
    return f"{v:.4g}"


class Frame:
    """The plotting area of one chart: data → pixel coordinates, axes and tick labels."""

    def __init__(self, xs: list[float], ys: list[float], width: int = W, height: int = H, log_x: bool = False):
        self.log_x = log_x and all(x > 0 for x in xs)
        xs = [math.log10(x) for x in xs] if self.log_x else xs
        self.x0, self.x1 = _span(xs)
        self.y0, self.y1 = _span(ys)
        self.w, self.h = width, height

    def x(self, v: float) -> float:
        v = math.log10(v) if self.log_x else v
        return LEFT + (v - self.x0) / (self.x1 - self.x0) * (self.w - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return self.h - BOTTOM - (v - self.y0) / (self.y1 - self.y0) * (self.h - TOP - BOTTOM)

    def axes(self, title: str, xlabel: str, ylabel: str, x_ticks: bool = True) -> list[str]:
        r, b = self.w - RIGHT, self.h - BOTTOM
        out = [f'<rect x="{LEFT}" y="{TOP}" width="{r - LEFT}" height="{b - TOP}" fill="none" stroke="#999"/>',
               f'<text x="{LEFT}" y="16" font-weight="bold">{escape(title)}</text>',
               f'<text x="{(LEFT + r) / 2:.0f}" y="{self.h - 6}" text-anchor="middle">{escape(xlabel)}</text>',
               f'<text x="12" y="{(TOP + b) / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 12 {(TOP + b) / 2:.0f})">{escape(ylabel)}</text>']
        for t in ticks(self.y0, self.y1):
            out.append(f'<text x="{LEFT - 4}" y="{self.y(t) + 4:.1f}" text-anchor="end">{_num(t)}</text>')
        if x_ticks:
            for t in ticks(self.x0, self.x1):
                label = _num(10 ** t) if self.log_x else _num(t)
                px = LEFT + (t - self.x0) / (self.x1 - self.x0) * (r - LEFT)
                out.append(f'<text x="{px:.1f}" y="{b + 14}" text-anchor="middle">{label}</text>')
        return out


def _span(values: list[float]) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi == lo:
        pad = abs(lo) * 0.05 or 0.5
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def _svg(width: int, height: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">' + "".join(body) + "</svg>")


def _legend(labels: list[str], colors: list[str], width: int, extra: int = 0) -> list[str]:
    out = []
    for i, (label, color) in enumerate(zip(labels[:LEGEND_MAX], colors)):
        y = TOP + 6 + 14 * i
        out.append(f'<rect x="{width - RIGHT + 8}" y="{y - 8}" width="10" height="3" fill="{color}"/>'
                   f'<text x="{width - RIGHT + 22}" y="{y}">{escape(label[:22])}</text>')
    if extra:
        out.append(f'<text x="{width - RIGHT + 8}" y="{TOP + 6 + 14 * LEGEND_MAX}" fill="#777">+{extra} more '
                   f'(grey)</text>')
    return out


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)] if i < LEGEND_MAX else GREY


def lines(series: list[tuple[str, list, list]], title: str, xlabel: str, ylabel: str) -> str | None:
    """One polyline per (label, xs, ys); the first LEGEND_MAX in colour with a legend, the rest grey under them.
    None when no series has a finite point."""
    clean = [(label, [(x, y) for x, y in zip(xs, ys) if _finite(x) and _finite(y)]) for label, xs, ys in series]
    clean = [(label, pts) for label, pts in clean if pts]
    if not clean:
        return None
    f = Frame([x for _, pts in clean for x, _ in pts], [y for _, pts in clean for _, y in pts])
    body = f.axes(title, xlabel, ylabel)
    for i in reversed(range(len(clean))):                 # the first (best) runs drawn last: on top
        pts = clean[i][1]
        path = " ".join(f"{f.x(x):.1f},{f.y(y):.1f}" for x, y in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{color(i)}" stroke-width="1.5">'
                    f'<title>{escape(clean[i][0])}</title></polyline>')
        if len(pts) == 1:
            body.append(f'<circle cx="{f.x(pts[0][0]):.1f}" cy="{f.y(pts[0][1]):.1f}" r="3" fill="{color(i)}"/>')
    labels = [label for label, _ in clean]
    body += _legend(labels, [color(i) for i in range(len(labels))], W, max(0, len(labels) - LEGEND_MAX))
    return _svg(W, H, body)


def points(xs: list, ys: list, errors: list, title: str, xlabel: str, ylabel: str) -> str | None:
    """A metric against one setting: numbers on a (log when spanning ≥ 2 decades) axis joined in order, names
    side by side; `errors` are ± bars (NaN: none)."""
    rows = [(x, y, e) for x, y, e in zip(xs, ys, errors) if _finite(y)]
    if not rows:
        return None
    numeric = all(_finite(x) for x, _, _ in rows)
    if numeric:
        rows.sort(key=lambda r: r[0])
        values = [x for x, _, _ in rows]
        log = min(values) > 0 and max(values) / min(values) >= 100
    else:
        values, log = list(range(len(rows))), False
    lo = [y - (e if _finite(e) else 0) for _, y, e in rows]
    hi = [y + (e if _finite(e) else 0) for _, y, e in rows]
    f = Frame(values, lo + hi, log_x=log)
    body = f.axes(title, xlabel + (" (log)" if f.log_x else ""), ylabel, x_ticks=numeric)
    pts = [(f.x(v), f.y(y)) for v, (_, y, _) in zip(values, rows)]
    if numeric:
        body.append('<polyline points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) +
                    f'" fill="none" stroke="{PALETTE[0]}"/>')
    for (px, py), (x, y, e), a, b in zip(pts, rows, lo, hi):
        if _finite(e) and e > 0:
            body.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{f.y(a):.1f}" y2="{f.y(b):.1f}" stroke="#555"/>')
        body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{PALETTE[0]}"><title>{escape(str(x))}: '
                    f'{_num(y)}</title></circle>')
        if not numeric:
            body.append(f'<text x="{px:.1f}" y="{H - BOTTOM + 14}" text-anchor="middle">{escape(str(x)[:14])}</text>')
    return _svg(W, H, body)


def parallel(dims: list[tuple[str, list]], metric: str, values: list[float], higher: bool) -> str | None:
    """Parallel coordinates: one vertical axis per setting (numbers scaled, log when spanning ≥ 2 decades; names
    as categories) and the metric last; one line per run, coloured from worst (light) to best (dark blue)."""
    ok = [i for i, v in enumerate(values) if _finite(v)]
    if len(dims) < 1 or len(ok) < 2:
        return None
    axes = [*dims, (metric, values)]
    width, height = max(W, 120 * len(axes) + 80), 320
    xs = [50 + i * (width - 100) / (len(axes) - 1) for i in range(len(axes))]
    scaled, body = [], [f'<text x="10" y="16" font-weight="bold">{escape(metric)} against the settings</text>']
    for (name, col), x in zip(axes, xs):
        pos, labels = _axis([col[i] for i in ok])
        scaled.append(pos)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="40" y2="{height - 40}" stroke="#888"/>'
                    f'<text x="{x:.1f}" y="32" text-anchor="middle">{escape(name[:24])}</text>')
        body += [f'<text x="{x + 4:.1f}" y="{height - 40 - p * (height - 80) + 4:.1f}" fill="#555">{escape(t)}</text>'
                 for p, t in labels]
    lo, hi = min(values[i] for i in ok), max(values[i] for i in ok)
    order = sorted(range(len(ok)), key=lambda j: values[ok[j]], reverse=not higher)   # best drawn last (on top)
    for j in order:
        goodness = 0.5 if hi == lo else (values[ok[j]] - lo) / (hi - lo)
        goodness = goodness if higher else 1 - goodness
        shade = f"rgb({int(200 - 170 * goodness)},{int(200 - 120 * goodness)},{int(230 - 50 * goodness)})"
        path = " ".join(f"{x:.1f},{height - 40 - pos[j] * (height - 80):.1f}" for x, pos in zip(xs, scaled))
        body.append(f'<polyline points="{path}" fill="none" stroke="{shade}" stroke-width="1.5"/>')
    return _svg(width, height, body)


def _axis(column: list) -> tuple[list[float], list[tuple[float, str]]]:
    """Positions in [0, 1] of a column's values and its tick labels (position, text)."""
    if all(_finite(v) for v in column):
        log = min(column) > 0 and max(column) / min(column) >= 100
        vals = [math.log10(v) for v in column] if log else [float(v) for v in column]
        lo, hi = min(vals), max(vals)
        pos = [0.5 if hi == lo else (v - lo) / (hi - lo) for v in vals]
        shown = sorted(set(column))
        shown = shown if len(shown) <= 6 else [min(column), max(column)]
        return pos, [(p, _num(v)) for v, p in zip(shown, [pos[column.index(v)] for v in shown])]
    names = sorted({str(v) for v in column})
    place = {n: (0.5 if len(names) == 1 else i / (len(names) - 1)) for i, n in enumerate(names)}
    return [place[str(v)] for v in column], [(p, n[:12]) for n, p in place.items()]


def bars(names: list[str], values: list[float], title: str) -> str | None:
    """Horizontal bars (Optuna's parameter importances), largest first."""
    rows = sorted(((n, v) for n, v in zip(names, values) if _finite(v)), key=lambda r: -r[1])
    if not rows:
        return None
    height, top = 40 + 22 * len(rows), max(v for _, v in rows) or 1.0
    body = [f'<text x="10" y="16" font-weight="bold">{escape(title)}</text>']
    for i, (name, v) in enumerate(rows):
        y = 30 + 22 * i
        body.append(f'<text x="150" y="{y + 12}" text-anchor="end">{escape(name[:24])}</text>'
                    f'<rect x="156" y="{y}" width="{300 * v / top:.1f}" height="16" fill="{PALETTE[0]}"/>'
                    f'<text x="{160 + 300 * v / top:.1f}" y="{y + 12}">{_num(v)}</text>')
    return _svg(W, height, body)
