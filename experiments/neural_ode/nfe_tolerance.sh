#!/usr/bin/env bash
# NFE vs tolerance on digits_odenet (10 epochs each): run from a scratch dir; prints one table row per tolerance.
#   OMP_NUM_THREADS=1 bash experiments/neural_ode/nfe_tolerance.sh
set -euo pipefail
echo "| rtol = atol | forward NFE / batch | backward NFE / batch | s / epoch (train + val) | test acc |"
echo "|---|---|---|---|---|"
for tol in 1e-1 1e-2 1e-3 1e-4 1e-5; do
  mlrun train experiment=digits_odenet device=cpu trainer.epochs=10 model.rtol=$tol model.atol=$tol name=tol$tol >/dev/null
  run=$(ls -d outputs/*/*_tol$tol | tail -1)
  python - "$run" "$tol" <<'PY'
import csv, json, sys
run, tol = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{run}/metrics.csv")))
s = json.load(open(f"{run}/summary.json"))
mean = lambda k: sum(float(r[k]) for r in rows) / len(rows)
sec = mean("epoch_seconds")
print(f"| {tol} | {mean('nfe_forward'):.1f} | {mean('nfe_backward'):.1f} | {sec:.2f} | {s['test_acc']:.4f} |")
PY
done
