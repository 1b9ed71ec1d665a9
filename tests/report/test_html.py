"""report.html: self-contained (no network), escaped, its sections; in a real headless Chromium: loads without
console errors, a click on a column header sorts the table, the screenshot is not blank."""

from __future__ import annotations

import io
import json
import re

import pytest

from mlrun.report.html import page
from mlrun.report.table import table
from tests.report.browser import Browser, find
from tests.report.fakes import fake_run

PROV = {"python": "3.11.7", "torch": "2.3.0", "cpu": "EPYC", "packages": {"torch": "2.3.0"},
        "command": ["mlrun", "train", "optimizer.lr=0.1"],
        "git": {"commit": "b" * 40, "dirty": True, "changed": {"mlrun/x.py": "c" * 64}},
        "data": {"/data/train.csv": {"size": 10, "mtime": 1.0, "sha256": "1" * 64}}}


@pytest.fixture(scope="module")
def sweep50(tmp_path_factory):
    """50 jobs: 5 learning rates × 2 batch sizes × 5 seeds; accuracy rises with lr up to 0.01; one odd name."""
    root = tmp_path_factory.mktemp("html") / "sweep"
    for job in range(50):
        lr, batch, seed = [0.0001, 0.001, 0.01, 0.1, 1.0][job % 5], [32, 256][job // 5 % 2], job // 10
        acc = round(0.80 + 0.03 * min(job % 5, 2) - 0.05 * (job % 5 == 4) + 0.004 * ((7 * job) % 5), 4)
        name = "<b>odd</b>" if job == 7 else str(job)
        fake_run(root / name, {"optimizer.lr": lr, "trainer.batch_size": batch, "seed": seed}, acc)
        summary = json.loads((root / name / "summary.json").read_text())
        (root / name / "summary.json").write_text(json.dumps(summary | {"provenance": PROV}))
    return root


@pytest.fixture(scope="module")
def html(sweep50):
    df, runs, keys, skipped = table([str(sweep50)])
    return page(df, runs, keys, [str(sweep50)], skipped)


def test_page_is_self_contained_small_and_escaped(html):
    assert len(html.encode()) < 2_000_000
    assert re.findall(r"https?://[^\s\"']+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg")
    assert not re.search(r"<(link|img|iframe)\b|<script\s+src", html)
    assert "<b>odd</b>" not in html and "&lt;b&gt;odd&lt;/b&gt;" in html


def test_page_sections(html):
    for heading in ("Seed groups", "Runs", "Learning curves", "val_acc against the settings", "Parallel coordinates",
                    "Provenance"):
        assert f"<h2>{heading}</h2>" in html
    assert html.count("<details>") == 50 and "train.csv  111111111111…  10 bytes" in html
    assert "significant" in html and "within noise" in html          # lr 1.0 is worse; 0.01 vs 0.1 are close


@pytest.mark.slow                       # ~2.5 s: a browser start; CI runs it (make test-slow), chromium from .ci/run
@pytest.mark.skipif(find() is None, reason="no chromium / chrome installed (apt-get install chromium)")
def test_in_headless_chromium_loads_sorts_and_draws(html, tmp_path):
    pil = pytest.importorskip("PIL")
    from PIL import Image, ImageStat
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    with Browser.start() as browser:
        browser.open(path)
        column = browser.evaluate("Array.from(document.querySelectorAll('#runs th')).findIndex("
                                  "th => th.textContent === 'val_acc')")
        cells = f"Array.from(document.querySelectorAll('#runs tbody tr')).map(r => r.cells[{column}].textContent)"
        before = [float(v) for v in browser.evaluate(cells)]
        browser.click(f"#runs th:nth-child({column + 1})")
        after = [float(v) for v in browser.evaluate(cells)]
        browser.click(f"#runs th:nth-child({column + 1})")
        again = [float(v) for v in browser.evaluate(cells)]
        png = browser.screenshot()
        assert browser.errors == []
    assert before != sorted(before) and after == sorted(before) and again == sorted(before, reverse=True)
    pixels = Image.open(io.BytesIO(png)).convert("L")
    assert pil and pixels.size[0] >= 800 and ImageStat.Stat(pixels).stddev[0] > 10        # not blank: contrast


@pytest.mark.slow                       # optuna + sqlalchemy import and a 12-trial study: ~3 s
def test_optuna_importances_from_the_study_db_and_a_broken_db_is_one_note(tmp_path):
    optuna = pytest.importorskip("optuna")
    from mlrun.report.html import optuna_section

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="demo", storage=f"sqlite:///{tmp_path / 'optuna.db'}", direction="maximize")
    study.optimize(lambda t: -(t.suggest_float("lr", 1e-4, 1, log=True) - 0.01) ** 2 + 0 * t.suggest_int("w", 8, 64),
                   n_trials=12)
    (tmp_path / "sweep").mkdir()
    html = optuna_section([str(tmp_path / "sweep")])                    # the db one folder above the sweep
    assert "demo: parameter importances" in html and html.count("<rect") == 2
    (tmp_path / "optuna.db").write_bytes(b"not a database")
    note = optuna_section([str(tmp_path / "sweep")])
    assert note.startswith("<p class=note>") and "parameter importances not shown" in note
