"""`mlrun train`: the Hydra entry around `mlrun.train.train`.

A bad value ends in one line on stderr and exit 2. In a single run the folder it had just created is removed
(nothing in outputs/ looks like a result); in a sweep the job's folder keeps `error.txt`, the other jobs go on,
and the command exits non-zero at the end. SIGINT/SIGTERM: exit 130/143 after a checkpoint, with the resume
command; NaN/Inf with trainer.nan_policy=stop: exit 3, the run folder and its checkpoints kept (mlrun.faults).
The run folder and resume= are settled before Hydra starts (mlrun.launch).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

FAILED_JOBS: list[str] = []      # run dirs of failed sweep jobs in this process


def _task(cfg) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from mlrun import launch
    from mlrun.cli import fail
    from mlrun.errors import UserError
    from mlrun.faults import EXIT_DIVERGED, Diverged, Stopped, on_signals, stop_now
    from mlrun.train import train

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    resume = launch.RESUME
    last = run_dir / "checkpoints" / "last.pt"
    try:
        with on_signals(stop_now):       # the training loop installs its own: stop at the next step boundary
            if resume is not None:
                return train(resume["cfg"], run_dir, resume=resume["payload"])
            return train(cfg, run_dir)
    except Stopped as e:                 # exit 130 (SIGINT) / 143 (SIGTERM)
        if not launch.OWNER:             # rank 0 says it
            sys.exit(e.code)
        if not last.exists() and resume is None:
            logging.shutdown()
            shutil.rmtree(run_dir, ignore_errors=True)
            fail("mlrun train", f"{e}; nothing was saved", e.code)
        how = f"mlrun train resume={run_dir}"
        if launch.WORLD > 1:
            how = f"torchrun --nproc_per_node=<N> -m {how}"
        fail("mlrun train", f"{e}; checkpoint {last}; resume with: {how}", e.code)
    except Exception as e:  # noqa: BLE001 - in a sweep any failure is recorded and the other jobs go on
        multirun = hc.mode == RunMode.MULTIRUN
        if not multirun and not isinstance(e, (UserError, OSError)):
            raise
        if isinstance(e, OSError):       # disk full, folder removed or made read-only during the run
            line = f"cannot write the run folder {run_dir}: {e.strerror or e} ({getattr(e, 'filename', '') or ''})"
        else:
            line = " ".join(str(e).split())
            line = line if isinstance(e, UserError) else f"{type(e).__name__}: {line}"
        if isinstance(e, Diverged) and not multirun:   # keep the run folder: metrics.csv, last good checkpoints
            if launch.OWNER:
                (run_dir / "error.txt").write_text(line + "\n")
            fail("mlrun train", line, EXIT_DIVERGED)
        if isinstance(e, OSError) and not multirun:
            fail("mlrun train", line, 1)
        if hc.mode == RunMode.MULTIRUN:
            (run_dir / "error.txt").write_text(line + "\n")
            logging.getLogger("mlrun").error("job %s failed: %s", hc.job.num, line,
                                             exc_info=not isinstance(e, UserError))
            FAILED_JOBS.append(str(run_dir))
            if "optuna" in str(hc.sweeper.get("_target_")):   # a raise makes a FAIL trial; NaN crashes that sweeper
                from mlrun.sweep import JobFailed

                raise JobFailed(line) from None
            return float("nan")
        if resume is not None or not launch.OWNER:
            pass                                     # the run being resumed (or rank 0's folder) stays as it was
        elif not (run_dir / "checkpoints").exists():   # failed before training: leave no half-made run behind
            logging.shutdown()
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            (run_dir / "error.txt").write_text(line + "\n")
        fail("mlrun train", line)


def main(argv: list[str]) -> None:
    import hydra

    from mlrun import sweep
    from mlrun.paths import config_dir

    sweep.register_resolvers()
    missing = sweep.missing_plugin(argv)
    if missing:
        from mlrun.cli import fail

        fail("mlrun train", missing)
    user_conf = Path.cwd() / "conf"            # ./conf/<group>/<option>.yaml adds options without editing mlrun
    searchpath = None
    if user_conf.is_dir() and user_conf.resolve() != config_dir().resolve():
        searchpath = f"file://{user_conf.resolve()}"
        argv = [f"hydra.searchpath=[{searchpath}]", *argv]
    if not any(a in ("-h", "--help", "--hydra-help", "--info", "-i", "--shell-completion", "-sc") for a in argv):
        from hydra._internal.utils import get_args_parser   # Hydra's own parser: flags vs overrides

        from mlrun.precheck import check_overrides

        problem = check_overrides(config_dir(), get_args_parser().parse_args(argv).overrides, searchpath)
        if problem:
            from mlrun.cli import fail

            fail("mlrun train", problem)
    if not any(a in ("-h", "--help", "--hydra-help", "--info", "-i", "--shell-completion", "-sc", "--cfg", "-c")
               for a in argv):
        from mlrun import launch
        from mlrun.errors import UserError

        try:
            argv = launch.prepare(argv, config_dir(), searchpath)
        except UserError as e:
            from mlrun.cli import fail

            fail("mlrun train", str(e))
    sys.argv = ["mlrun train", *argv]
    if any("optuna" in a for a in argv):       # Optuna's sweeper raises when every trial failed: let it reach us
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(_task)()
    except Exception as e:
        from hydra.errors import HydraException

        rows = sweep.collect(sweep.CURRENT[0]) if sweep.CURRENT else []
        if isinstance(e, HydraException) and not rows:     # a bad hydra.* override: one line, as Hydra would
            from mlrun.cli import fail

            fail("mlrun train", str(e).split("\n")[0])
        if not rows or any(r["status"] == "ok" for r in rows):
            raise
        sweep.FAILED[:] = rows                 # every job failed: say so in one line below
    finally:
        if "mlrun.distributed" in sys.modules:
            sys.modules["mlrun.distributed"].shutdown()
    failed = {d: "" for d in FAILED_JOBS} | {r["run_dir"]: r.get("error", "") for r in sweep.FAILED}
    if failed:
        from mlrun.cli import fail

        first = next((e for e in failed.values() if e), "")
        fail("mlrun train", f"{len(failed)} sweep job(s) failed{f' (first: {first})' if first else ''}; "
                            f"see error.txt in {', '.join(sorted(failed))}", 1)
