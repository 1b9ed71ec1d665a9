"""Provenance differences between two runs, one line each: "different data: train.csv sha256 1a2b3c4d… vs
9f8e7d6c…", "code: commit f71c2fd vs 0a1b2c3 (3 files changed)", "packages: torch 2.1.0 vs 2.2.0".

The provenance comes from summary.json (mlrun.runtime.provenance writes it); it is untrusted: every value is checked
for its type before use, and a field of the wrong shape counts as absent. Runs made before provenance was recorded
fall back to the summary's torch_version / python_version / git_commit.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV_KEYS = ("python", "torch", "cuda", "cudnn", "gpu", "cpu", "mlrun")     # compared as text, in this order
SHOWN = 5                       # names listed in one line before "and N more"
_SHA_SHOWN = 12                 # hex digits of a sha256 shown


def of(summary: dict) -> dict:
    """The run's provenance with its fields type-checked (absent: {}), or the older summary keys."""
    p = summary.get("provenance")
    if not isinstance(p, dict):
        return {"python": summary.get("python_version"), "torch": summary.get("torch_version"),
                "mlrun": summary.get("mlrun_version"), "legacy": True}
    return p


def _text(v) -> str | None:
    return None if v is None or isinstance(v, (dict, list)) else str(v)[:200]


def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _names(items: list[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def differences(a: dict, b: dict, names: tuple[str, str] = ("A", "B")) -> list[str]:
    """One line per difference between provenances `a` and `b` (from `of`), the runs called `names`; [] when
    they agree."""
    lines = []
    if a.get("legacy") != b.get("legacy"):
        older = names[0] if a.get("legacy") else names[1]
        lines.append(f"provenance: {older} was made before mlrun recorded packages and data files")
    for key in ENV_KEYS:
        va, vb = _text(a.get(key)), _text(b.get(key))
        if va != vb and (va is not None and vb is not None or not (a.get("legacy") or b.get("legacy"))):
            lines.append(f"{key}: {va} vs {vb}")
    return lines + data_lines(_dict(a.get("data")), _dict(b.get("data")), names) + \
        code_lines(_dict(a.get("git")), _dict(b.get("git")), names) + \
        package_lines(_dict(a.get("packages")), _dict(b.get("packages")), names)


def _sha(entry) -> str | None:
    sha = entry.get("sha256") if isinstance(entry, dict) else None
    return sha if isinstance(sha, str) else None


def data_lines(a: dict, b: dict, names: tuple[str, str] = ("A", "B")) -> list[str]:
    """Data files matched by path, else by file name: different content, read by one run only."""
    lines, only_a, matched = [], [], set()
    name = os.path.basename
    for path, entry in a.items():
        twin = path if path in b else next((q for q in b if name(q) == name(path) and q not in a
                                            and q not in matched), None)
        if twin is None:
            only_a.append(name(path))
            continue
        matched.add(twin)
        sa, sb = _sha(entry), _sha(b[twin])
        if sa != sb:
            lines.append(f"different data: {name(path)} sha256 {str(sa)[:_SHA_SHOWN]}… vs {str(sb)[:_SHA_SHOWN]}…"
                         + ("" if twin == path else f" ({path} vs {twin})"))
    only_b = [name(q) for q in b if q not in matched]
    lines += [f"data read only by {names[0]}: {_names(only_a)}"] if only_a else []
    return lines + ([f"data read only by {names[1]}: {_names(only_b)}"] if only_b else [])


def code_lines(a: dict, b: dict, names: tuple[str, str] = ("A", "B")) -> list[str]:
    """The git commit and the uncommitted edits of the two runs' working trees."""
    ca, cb = _text(a.get("commit")), _text(b.get("commit"))
    if ca is None and cb is None:
        return []
    if ca is None or cb is None:
        return [f"code: {names[0] if ca is None else names[1]} was not run in a git repository"] if a and b else []
    ea, eb = _dict(a.get("changed")), _dict(b.get("changed"))
    edited = sorted(p for p in set(ea) | set(eb) if ea.get(p) != eb.get(p))
    if ca != cb:
        n = changed_between(_text(a.get("repo")), ca, cb)
        count = f"{n} files changed" if n is not None else "the commits are not in this repository"
        extra = f"; uncommitted edits in {_names(edited)}" if edited else ""
        return [f"code: commit {ca[:7]} vs {cb[:7]} ({count}){extra}"]
    if edited:
        return [f"code: {len(edited)} file{'s' * (len(edited) != 1)} changed (uncommitted edits on commit "
                f"{ca[:7]}): {_names(edited)}"]
    return []


def changed_between(repo: str | None, a: str, b: str) -> int | None:
    """Files changed between commits `a` and `b` of `repo` (None when it or they are not there)."""
    if not repo or not Path(repo).is_dir() or not all(c.isalnum() for c in a + b):
        return None
    try:
        out = subprocess.run(["git", "-C", repo, "diff", "--name-only", a, b, "--"], capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return len(out.stdout.split()) if out.returncode == 0 else None


def package_lines(a: dict, b: dict, names: tuple[str, str] = ("A", "B")) -> list[str]:
    if not a or not b:
        return []
    changed = [f"{n} {a[n]} vs {b[n]}" for n in sorted(set(a) & set(b)) if a[n] != b[n]]
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    lines = [f"packages: {_names(changed)}"] if changed else []
    lines += [f"packages only in {names[0]}: {_names(only_a)}"] if only_a else []
    return lines + ([f"packages only in {names[1]}: {_names(only_b)}"] if only_b else [])


def brief(p: dict) -> dict:
    """The provenance of one run as short text fields (the HTML report's per-run view)."""
    git = _dict(p.get("git"))
    commit = _text(git.get("commit"))
    code = "no git repository" if commit is None else commit[:10] + (" (dirty: " + _names(sorted(_dict(
        git.get("changed")))) + ")" if git.get("dirty") else "")
    data = [f"{os.path.basename(k)}  {_sha(v) and _sha(v)[:_SHA_SHOWN]}…  {_dict(v).get('size')} bytes"
            for k, v in _dict(p.get("data")).items()]
    command = p.get("command")
    return {**{k: _text(p.get(k)) for k in ENV_KEYS if p.get(k) is not None},
            "command": " ".join(map(str, command))[:500] if isinstance(command, list) else None,
            "code": code, "data": data, "packages": len(_dict(p.get("packages")))}
