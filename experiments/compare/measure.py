"""Times `mlrun compare` (2 runs, a 50-run sweep) against the bare start-up, the size of report.html for 50 runs,
its load in headless Chromium, and the cost of collecting provenance; optionally the docs' screenshot.

    PYTHONPATH=$PWD .venv/bin/python experiments/compare/measure.py [--sweep DIR] [--screenshot docs/report-html.png]

The 50-run sweep is synthetic (run folders written directly, as tests/report/fakes.py does: 5 lr × 2 batch sizes ×
5 seeds, with provenance); --sweep DIR also reports a real sweep folder (its HTML is the screenshot's page).
Each timing is the median of 3 whole processes.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.report.browser import Browser  # noqa: E402 - after the path: the test helper drives Chromium
from tests.report.fakes import fake_run  # noqa: E402


def seconds(*args: str, cwd: Path) -> tuple[float, float]:
    """(wall, CPU user + system) seconds of `python -m mlrun ARGS`, medians of 3: on a loaded machine the CPU time
    says what the command costs, the wall time what a user waited."""
    walls, cpus = [], []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mlrun", *args], cwd=cwd, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def sweep50(root: Path) -> Path:
    prov = json.loads(json.dumps({"provenance": {
        "python": "3.11.7", "torch": "2.3.0", "packages": {f"package{i}": "1.0" for i in range(150)},
        "git": {"commit": "b" * 40, "dirty": False, "changed": {}},
        "data": {"/data/train.csv": {"size": 10, "mtime": 1.0, "sha256": "1" * 64}}}}))
    for job in range(50):
        lr, batch, seed = [0.0001, 0.001, 0.01, 0.1, 1.0][job % 5], [32, 256][job // 5 % 2], job // 10
        run = root / "sweep" / str(job)
        fake_run(run, {"optimizer.lr": lr, "trainer.batch_size": batch, "seed": seed},
                 round(0.8 + 0.03 * min(job % 5, 2) + 0.004 * ((7 * job) % 5), 4), epochs=20)
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps(summary | prov))
    return root / "sweep"


def html_numbers(sweep: Path, out: Path, shot: Path | None = None) -> dict:
    subprocess.run([sys.executable, "-m", "mlrun", "report", str(sweep), "--html", "--no-plots", "--out", str(out)],
                   check=True, capture_output=True)
    page = out / "report.html"
    found = {"html_bytes": page.stat().st_size}
    browser = Browser.start(width=1100, height=1250)
    if browser is None:
        return found
    with browser:
        browser.open(page)
        found["load_ms"] = browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        found["console_errors"] = len(browser.errors)
        if shot is not None:
            shot.write_bytes(browser.screenshot())
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sweep", type=Path, help="a real sweep folder to report too")
    parser.add_argument("--screenshot", type=Path, help="write the real sweep's report.html screenshot here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlrun-compare-"))
    sweep = sweep50(tmp)
    rows = {"startup (mlrun --version)": seconds("--version", cwd=tmp),
            "compare 2 runs": seconds("compare", str(sweep / "0"), str(sweep / "1"), "--no-plots", cwd=tmp),
            "compare 2 runs + curves": seconds("compare", str(sweep / "0"), str(sweep / "1"), "--out",
                                               str(tmp / "c2"), cwd=tmp),
            "compare 50 runs + curves": seconds("compare", str(sweep), "--out", str(tmp / "c50"), cwd=tmp)}
    for name, (wall, cpu) in rows.items():
        print(f"{name:<28} {wall:6.2f} s wall  {cpu:6.2f} s CPU")
    print("report.html, 50 synthetic runs:", html_numbers(sweep, tmp / "r50"))
    if args.sweep:
        print(f"report.html, {args.sweep}:", html_numbers(args.sweep, tmp / "real", args.screenshot))
    __import__("torch")              # imported in every training run before provenance is collected

    from mlrun.runtime import provenance

    took = []
    for _ in range(3):
        start = time.perf_counter()
        provenance.collect(tmp, None, [], tmp / "cache")
        took.append(1000 * (time.perf_counter() - start))
    print(f"provenance.collect (in a git tree: {provenance.git_state(Path.cwd(), tmp) is not None}): "
          f"{', '.join(f'{t:.0f}' for t in took)} ms (first call, then again)")


if __name__ == "__main__":
    main()
