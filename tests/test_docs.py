"""Docs are code: every shell command in README.md and docs/*.md (```bash blocks) runs as written.

- Default: every `mlrun train` line composes (mlrun.config.precheck, each sweep value in turn), every other `mlrun`
  line names a real command.
- Slow: each file's blocks run in order as one bash script in a fresh folder, with `mlrun` shrunk by a wrapper
  on PATH (the rule: `mlrun train` without `resume=` gets `trainer.fast_dev_run=true device=cpu` appended —
  one batch of each split, on the CPU; every other command runs as written). README.md runs as in a new user's
  fresh shell after `make`: `mlrun` is on PATH only once its own `source .venv/bin/activate` ran, and no file may
  land loose in the folder the commands run in (only data/, outputs/).
- Not run, composed only (listed in SKIP_RUN): set-up commands (make, venv, pip: CI runs them), lines marked
  `# needs:` (data files, GPUs, extras this machine may lack), and `torchrun` (tests/test_distributed.py runs DDP).
  A line whose needs are only `<data_root>/...` files does run where the data root has them (`has_data`), with
  MLRUN_DATA_DIR pointing there.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlrun.cli import COMMANDS
from mlrun.paths import config_dir
from mlrun.config.precheck import check_overrides

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_RUN = ("make ", "python3 -m venv", ".venv/bin/pip", "pip install", "torchrun ")


def commands(page: Path) -> list[tuple[int, str]]:
    """(line number, command) of every line in the page's ```bash blocks (continuations joined)."""
    out, text = [], page.read_text(encoding="utf-8")
    for m in re.finditer(r"```bash\n(.*?)```", text, re.S):
        first = text[:m.start()].count("\n") + 2
        for n, line in enumerate(m.group(1).replace("\\\n", " ").splitlines()):
            if line.strip() and not line.strip().startswith("#"):
                out.append((first + n, line.strip()))
    return out


LINES = [(page, n, line) for page in PAGES for n, line in commands(page)]
MLRUN = [(p, n, line) for p, n, line in LINES if re.match(r"^(\w+=\S+ )?mlrun ", line)]


def words(line: str) -> list[str]:
    """The arguments after `mlrun`, without the trailing comment."""
    args = shlex.split(line, comments=True)
    return args[args.index("mlrun") + 1:]


def test_pages_have_commands():
    assert len(MLRUN) > 40 and any(p.name == "README.md" for p, _, _ in MLRUN)


@pytest.mark.parametrize("page, n, line", MLRUN, ids=[f"{p.name}:{n}" for p, n, _ in MLRUN])
def test_command_composes(page, n, line):
    args = words(line)
    if args in (["--version"], ["--help"]):                    # mlrun's own flags, no command
        return
    assert args and args[0] in COMMANDS, f"{page.name}:{n}: unknown command in {line!r}"
    if args[0] != "train" or any(a in ("--help", "-h", "--cfg") for a in args):
        return
    overrides = [a for a in args[1:] if not a.startswith("-") and not a.startswith("resume=")]
    overrides = [a.replace("$RUN", "x").replace("$HOME", "/home") for a in overrides]
    if "dataset=table" in overrides and "table" not in {p.stem for p in (config_dir() / "dataset").glob("*.yaml")}:
        pytest.skip("dataset=table is not in conf/ yet")
    problem = check_overrides(config_dir(), overrides)
    assert problem is None, f"{page.name}:{n}: {line}\n{problem}"


def has_data(line: str, root: Path | None) -> bool:
    """True when the line's `# needs:` names only files under `<data_root>/` (comma-separated; globs and {a,b}
    alternatives allowed) and every one of them exists under `root`."""
    needs = re.search(r"#.*\bneeds:(.*)$", line)
    if not needs or root is None:
        return False
    items = [item.strip() for item in needs.group(1).split(", ")]
    paths = [re.fullmatch(r"<data_root>/([\w./*{},-]+)", item) for item in items]
    if not all(paths):
        return False
    for m in paths:
        alternatives = re.fullmatch(r"(.*)\{(.*)\}(.*)", m.group(1))
        patterns = ([alternatives.group(1) + a + alternatives.group(3) for a in alternatives.group(2).split(",")]
                    if alternatives else [m.group(1)])
        if not all(any(root.glob(pattern)) for pattern in patterns):
            return False
    return True


def test_needs_lines_run_only_where_their_files_are(tmp_path):
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text("1\t1\t5\t0\n")
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte").write_bytes(b"")
    line = "mlrun train dataset=x     # needs: <data_root>/{}"
    assert has_data(line.format("ml-100k/u.data"), tmp_path)
    assert has_data(line.format("mnist/t10k-*"), tmp_path)
    assert not has_data(line.format("mnist/{train,t10k}-*"), tmp_path)         # no train files
    assert not has_data(line.format("ml-100k/u.data, Java 17"), tmp_path)       # something besides data
    assert not has_data(line.format("ml-100k/u.data"), None)
    assert not has_data("mlrun train dataset=x", tmp_path)


WRAPPER = """#!{python}
import os, sys
args = sys.argv[1:]
if args[:1] == ["train"] and not any(a.startswith("resume=") for a in args) and \\
        not any(a in ("--help", "-h", "--cfg") for a in args):
    args += ["trainer.fast_dev_run=true", "device=cpu"]      # the shrink rule (see tests/test_docs.py)
os.execv({python!r}, [{python!r}, "-m", "mlrun", *args])
"""


def fresh_shell(work: Path, wrapper: Path) -> str:
    """PATH of a new shell after `make`: no `mlrun` and no venv python on it until the README's own
    `source .venv/bin/activate` runs. `work/.venv` stands in for make's venv: its activate puts .venv/bin (the
    shrinking `mlrun` wrapper and a `python` of this interpreter) first on PATH, as a venv's does."""
    venv = work / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "mlrun").write_text(wrapper.read_text())
    (venv / "python").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    for tool in ("mlrun", "python"):
        (venv / tool).chmod(0o755)
    (venv / "activate").write_text(f'export VIRTUAL_ENV={shlex.quote(str(venv.parent))}\n'
                                   f'export PATH="$VIRTUAL_ENV/bin:$PATH"\n')
    dirs = [d for d in os.environ["PATH"].split(os.pathsep)
            if d and not (Path(d) / "mlrun").exists() and Path(d).resolve() != Path(sys.executable).parent.resolve()]
    return os.pathsep.join(dirs)


def test_readme_activates_before_its_first_mlrun_command():
    """A new shell has no `mlrun` on PATH: the README says how to get it before it first uses it."""
    lines = [line for _, line in commands(ROOT / "README.md")]
    first = next(i for i, line in enumerate(lines) if re.match(r"^(\w+=\S+ )?(mlrun|python) ", line))
    assert any(line.startswith("source .venv/bin/activate") for line in lines[:first]), lines[:first]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs_as_written(page, tmp_path):
    lines = [line for _, line in commands(page)]
    if not any(re.match(r"^(\w+=\S+ )?mlrun ", line) for line in lines) and "```python" not in page.read_text():
        pytest.skip("no mlrun command")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "mlrun"
    wrapper.write_text(WRAPPER.format(python=sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    from tests.helpers import data_dir

    root = data_dir()
    script = ["set -euo pipefail"]
    for line in lines:
        needs = re.search(r"#.*\bneeds:", line) and not has_data(line, root)
        skip = line.startswith(SKIP_RUN) or needs or "device=cuda" in line
        script.append(f": skipped: {shlex.quote(line)}" if skip else line)
    work = tmp_path / "work"
    work.mkdir()
    (work / "experiments").symlink_to(ROOT / "experiments")     # repository-relative scripts run as written
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    if page.name == "README.md":                                # a new user's fresh shell after `make`
        path = fresh_shell(work, wrapper)
    env = {**os.environ, "PATH": path, "PYTHONUNBUFFERED": "1", "MLRUN_CACHE_DIR": str(tmp_path / "cache"),
           **({"MLRUN_DATA_DIR": str(root)} if root else {})}
    r = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, f"{page.name}: a command failed\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr
    if page.name == "README.md":                                # nothing loose in the folder the commands ran in
        assert set(os.listdir(work)) <= {".venv", "data", "outputs", "experiments"}, sorted(os.listdir(work))
    for code in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S):   # then its examples
        r = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, f"{page.name}: a python example failed\n{r.stderr[-3000:]}"
