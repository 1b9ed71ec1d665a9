#!/usr/bin/env bash
# The GPU check in one go (≤ 8 minutes on one H100/H200): the gpu-marked tests, then the GPU rows of
# experiments/gpu/check.py, into one results file. On a machine without CUDA it says so and exits 0.
#   bash experiments/gpu/check.sh            # from the repository root, with mlrun installed (make setup)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "experiments/gpu/check.sh: no CUDA device here; skipped"
  exit 0
fi
out="experiments/gpu/results_$(date +%Y-%m-%d).txt"
{
  echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
  echo "## pytest -m gpu"
  timeout 180 "$PY" -m pytest -q -m gpu -p no:cacheprovider 2>&1 | tail -5 || true
  echo "## rows"
  timeout 300 "$PY" experiments/gpu/check.py
} | tee "$out"
echo "wrote $out"
