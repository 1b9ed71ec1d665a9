"""The inline SVG charts: round ticks, escaped text, points mapped into the frame, nothing drawn without data."""

from __future__ import annotations

import math
import re

from mlrun.report import svg


def test_ticks_are_round_and_cover_the_range():
    assert svg.ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.ticks(0.903, 0.937) == [0.91, 0.92, 0.93]          # step ≥ range / 5, of 1, 2 or 5 × 10^k
    assert svg.ticks(3.0, 3.0) == [3.0]


def test_lines_escape_labels_keep_points_in_the_frame_and_skip_non_finite():
    chart = svg.lines([("<run>", [1, 2, 3], [0.5, math.nan, 0.9]), ("b", [1, 2], [0.6, 0.7])], "t&t", "epoch", "acc")
    assert "<run>" not in chart and "&lt;run&gt;" in chart and "t&amp;t" in chart
    points = [tuple(map(float, p.split(","))) for p in re.findall(r'points="([^"]+)"', chart)[0].split()]
    assert len(points) == 2                                  # b's two points (drawn first: the first run on top)
    for x, y in (p for line in re.findall(r'points="([^"]+)"', chart) for p in
                 (tuple(map(float, q.split(","))) for q in line.split())):
        assert svg.LEFT <= x <= svg.W - svg.RIGHT and svg.TOP <= y <= svg.H - svg.BOTTOM
    assert svg.lines([("a", [1], [math.inf])], "t", "x", "y") is None


def test_parallel_and_bars_need_data():
    assert svg.parallel([("lr", [0.1, 0.01])], "val_acc", [math.nan, 0.9], True) is None
    chart = svg.parallel([("lr", [0.1, 0.01, 0.001]), ("opt", ["sgd", "adam", "sgd"])], "val_acc", [0.9, 0.8, 0.7],
                         True)
    assert chart.count("<polyline") == 3 and ">adam<" in chart and ">sgd<" in chart
    assert svg.bars(["lr", "w"], [0.75, 0.25], "imp").count("<rect") == 2 and svg.bars([], [], "x") is None
