"""Where a run came from, for summary.json's "provenance": installed packages, Python, torch, CUDA/cuDNN, CPU/GPU,
the command line, the git state of the working directory's repository (commit, dirty flag, and when dirty a
`git_diff.patch` in the run folder that `git apply` accepts) and a fingerprint of every data file the dataset read.

    with provenance.Recorder() as files:      # around the dataset's build (mlrun.fit.build.dataset)
        data = build(...)
    provenance.collect(run_dir, device, files.paths)   # → the dict summary.json stores

Data files are found by recording what `open` is asked to read while a Recorder is active (the dataset's build):
every dataset, whatever reads its bytes through Python (open, gzip, zipfile, pandas, numpy, scipy.io, Pillow), is
seen without a hook in each reader. `builtins.open` / `io.open` are wrapped only inside the `with` block and put
back after it. (A PEP 578 audit hook would see the same, but cannot be removed: it would then run on every audited
event for the rest of the process — ~850 `id()` calls per training step of a small MLP, ~0.4 ms a step.) Code,
checkpoints and interpreter files (site-packages, /proc ...) are left out. A fingerprint is (size, mtime, sha256
streamed 1 MiB at a time); sha256s are cached by (path, size, mtime_ns) in <cache>/fingerprints.json so a re-run
does not re-hash. The cache is untrusted input: anything not of the expected shape is ignored (then the file is
hashed again).

Cost, measured on the shared 2-core machine: ~30 ms a run (three `git` calls, packages from the names of the
*.dist-info folders: importlib.metadata's full metadata parse took 0.3 s, too much for every run).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import platform
import re
import stat
import subprocess
import sys
from pathlib import Path

from mlrun.paths import cache_dir
from mlrun.version import VERSION

PATCH = "git_diff.patch"        # in the run folder when the working tree was dirty
PATCH_MAX = 8 << 20             # bytes of `git diff` saved (larger: not saved, said so in the summary)
CACHE_MAX = 4 << 20             # bytes of the fingerprint cache read (larger: ignored and rewritten)
CACHE_ENTRIES = 5000            # fingerprints kept in the cache (the newest)
GIT_TIMEOUT = 5                 # seconds per git call
SKIP_SUFFIX = (".py", ".pyc", ".so", ".pyd", ".pth", ".pt", "fingerprints.json")   # code, checkpoints, our cache
SKIP_ROOTS = ("/proc/", "/sys/", "/dev/", "/etc/", "/usr/share/zoneinfo/", "/usr/lib/", "/tmp/torchinductor")
DATA_SUFFIX = (".csv", ".gz", ".bz2", ".xz", ".zip", ".npz", ".npy", ".mat", ".parquet", ".tsv", ".dat")  # in
#   the interpreter's folders only files like these count as data (scikit-learn's bundled digits.csv.gz)


class Recorder:
    """The regular files opened for reading while it is active (`with Recorder() as r: ...; r.paths`)."""

    def __init__(self):
        self.paths: list[str] = []
        self._saved, self.active = None, False

    def __enter__(self) -> "Recorder":
        self._saved = builtins.open, io.open
        inner = builtins.open

        def recording_open(file, mode="r", *args, **kwargs):
            if self.active:                            # a module imported meanwhile may keep this function
                self.saw(file, mode)
            return inner(file, mode, *args, **kwargs)

        builtins.open = io.open = recording_open
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        builtins.open, io.open = self._saved
        self.active = False

    def saw(self, file, mode) -> None:
        if not isinstance(file, (str, os.PathLike)) or any(c in str(mode) for c in "wax+"):
            return                                     # a file descriptor, or a file written
        path = os.path.abspath(os.fspath(file))
        if path.endswith(SKIP_SUFFIX) or path.startswith(SKIP_ROOTS) or path in self.paths:
            return
        if not path.startswith(_interpreter_roots()) or path.endswith(DATA_SUFFIX):
            self.paths.append(path)


def _interpreter_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *[p for p in sys.path if "-packages" in p]}
    return tuple(str(Path(r)) + os.sep for r in roots if r)


def collect(run_dir: Path, device=None, data_files: list[str] = (), cache_dir: Path | None = None) -> dict:
    """summary.json's "provenance" of a run writing to `run_dir` (a dirty tree's patch is saved there)."""
    return {"command": [Path(sys.argv[0]).name, *sys.argv[1:]], "cwd": os.getcwd(), "mlrun": VERSION,
            "python": sys.version.split()[0], "platform": platform.platform(), **_torch(device),
            "cpu": cpu_name(), "git": git_state(Path.cwd(), Path(run_dir)),
            "data": fingerprints(data_files, cache_dir or default_cache()), "packages": packages()}


def _torch(device) -> dict:
    """torch, CUDA and cuDNN versions and the GPU model (when the run used one)."""
    import torch

    cuda = torch.version.cuda
    cudnn = torch.backends.cudnn.version() if cuda and torch.backends.cudnn.is_available() else None
    gpu = torch.cuda.get_device_name(device) if device is not None and device.type == "cuda" else None
    return {"torch": torch.__version__, "cuda": cuda, "cudnn": cudnn, "gpu": gpu}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_DIST = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[0-9][^-]*?)\.(dist|egg)-info")


def packages() -> dict[str, str]:
    """{name: version} of the installed distributions on sys.path, read from the names of their *.dist-info /
    *.egg-info folders (PEP 376/427 spell them <name>-<version>); the first found wins, as for imports."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            m = _DIST.fullmatch(name)
            if m:
                found.setdefault(m["name"].lower().replace("_", "-"), m["version"])
    return dict(sorted(found.items()))


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode("utf-8", "replace") if out.returncode == 0 else None


def git_state(repo: Path, run_dir: Path) -> dict | None:
    """{commit, dirty, changed: {path: sha256 of its working copy}, patch} of the repository holding `repo` (None
    outside one). When dirty, `git diff --binary HEAD` (tracked files) is saved as <run_dir>/git_diff.patch;
    untracked files are listed in `untracked`, not in the patch."""
    commit = _git(repo, "rev-parse", "HEAD")
    if not commit:
        return None
    top = Path((_git(repo, "rev-parse", "--show-toplevel") or str(repo)).strip())
    status = _git(repo, "status", "--porcelain", "--untracked-files=normal", "--ignore-submodules") or ""
    changed, untracked = {}, []
    for line in status.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')          # "XY path" or "XY old -> new"
        if line.startswith("??"):
            untracked.append(path)
        else:
            changed[path] = _hash(top / path)
    state = {"repo": str(top), "commit": commit.strip(), "dirty": bool(changed),       # untracked files: listed
             "changed": changed, "untracked": untracked[:100]}
    if changed:
        diff = _git(repo, "diff", "--binary", "HEAD")
        if diff is not None and len(diff) <= PATCH_MAX:
            (run_dir / PATCH).write_text(diff)
            state["patch"] = PATCH
        else:
            state["patch"] = None
            state["patch_note"] = f"git diff not saved: more than {PATCH_MAX:,} bytes" if diff else "git diff failed"
    return state


def _hash(path: Path) -> str | None:
    """sha256 of a regular file, streamed (None for a deleted or unreadable one)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def default_cache() -> Path:
    """mlrun's cache folder (mlrun.paths.cache_dir: $MLRUN_CACHE_DIR, else $XDG_CACHE_HOME/mlrun, ...)."""
    return cache_dir()


def fingerprints(paths, cache_dir: Path) -> dict[str, dict]:
    """{path: {size, mtime, sha256}} of the regular files in `paths`; sha256 from the cache when the path, size and
    mtime_ns match an entry, else hashed (and the cache updated)."""
    cache_file = Path(cache_dir) / "fingerprints.json"
    cache = _read_cache(cache_file)
    out, dirty = {}, False
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        key = f"{path}|{info.st_size}|{info.st_mtime_ns}"
        digest = cache.get(key)
        if digest is None:
            digest = _hash(Path(path))
            if digest is None:
                continue
            cache[key], dirty = digest, True
        out[path] = {"size": info.st_size, "mtime": info.st_mtime, "sha256": digest}
    if dirty:
        _write_cache(cache_file, cache)
    return out


_SHA = re.compile(r"[0-9a-f]{64}")


def _read_cache(path: Path) -> dict[str, str]:
    """The cache's {path|size|mtime_ns: sha256}; an unreadable, oversized or malformed cache is empty, and entries
    of the wrong shape are dropped (it is a file anyone could have written)."""
    try:
        if os.stat(path).st_size > CACHE_MAX:
            return {}
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and _SHA.fullmatch(v)}


def _write_cache(path: Path, cache: dict[str, str]) -> None:
    """Atomic write of the newest CACHE_ENTRIES entries; a cache that cannot be written is only a slower re-run."""
    keep = dict(list(cache.items())[-CACHE_ENTRIES:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(keep))
        os.replace(tmp, path)
    except OSError:
        pass
