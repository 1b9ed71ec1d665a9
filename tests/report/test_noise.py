"""Seed noise: the t-tests against scipy, the verdicts, the seeds that would settle a close call."""

from __future__ import annotations

import random

import pytest

from mlrun.report import noise


@pytest.mark.parametrize("t, df", [(0.3, 4), (2.5, 7.3), (10.0, 3), (1e-3, 100), (4.0, 1.2)])
def test_t_distribution_matches_scipy(t, df):
    student = pytest.importorskip("scipy.stats").t
    assert noise._betainc(df / 2, 0.5, df / (df + t * t)) == pytest.approx(2 * student.sf(t, df), rel=1e-9)


def test_welch_and_paired_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    a, b = [0.90, 0.91, 0.92, 0.89, 0.93], [0.88, 0.90, 0.87, 0.86, 0.89, 0.91]
    assert noise.welch_p(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)
    got = noise.compare(a, b[:5], seeds_a=range(5), seeds_b=range(5))
    assert got["test"] == "paired t" and got["p"] == pytest.approx(stats.ttest_rel(b[:5], a).pvalue, rel=1e-9)
    assert noise.compare(a, b[:5], range(5), range(5, 10))["test"] == "Welch t"       # other seeds: unpaired


def _draws(mean, seed, n=5):
    r = random.Random(seed)
    return [r.gauss(mean, 0.01) for _ in range(n)]


def test_same_config_is_within_noise_and_a_real_gap_is_significant():
    rows = noise.verdicts(noise.seed_groups(["a"] * 5 + ["b"] * 5 + ["c"] * 5,
                                            _draws(0.9, 1) + _draws(0.9, 2) + _draws(0.8, 3), [None] * 15), True)
    by = {r["group"]: r for r in rows}
    assert rows[-1]["group"] == "c" and by["c"]["verdict"] == "significant" and by["c"]["p"] < 1e-4
    within = by["a"] if by["a"]["verdict"] != "best" else by["b"]
    assert within["verdict"] == "within noise" and within["seeds_to_settle"] > 5
    assert "seeds per group would settle it" in noise.describe(within)


def test_seeds_to_settle_is_the_power_formula():
    # n = 2 (1.96 + 0.84)^2 s^2 / d^2 = 15.7 → 16 runs per group for d = s
    assert noise.seeds_to_settle(0.01, 0.01) == 16
    assert noise.seeds_to_settle(0.0, 0.01) > noise.MAX_SEEDS and noise.seeds_to_settle(0.01, 0.0) == 2


def test_one_run_groups_cannot_be_told_and_failed_runs_are_left_out():
    rows = noise.verdicts(noise.seed_groups(["a", "a", "b"], [0.9, 0.91, float("nan")], [0, 1, 0]), True)
    assert [r["group"] for r in rows] == ["a"]
    rows = noise.verdicts(noise.seed_groups(["a", "a", "b"], [0.9, 0.91, 0.5], [0, 1, 0]), True)
    assert rows[1]["verdict"].startswith("cannot tell")


def test_a_tampered_infinite_metric_is_left_out_of_its_group():
    groups = noise.seed_groups(["a", "a", "a"], [0.9, float("inf"), 0.92], [0, 1, 2])
    rows = noise.verdicts(groups, True)
    assert rows == [{"group": "a", "n": 2, "mean": pytest.approx(0.91), "std": pytest.approx(0.01414, abs=1e-4),
                     "verdict": "best"}]
