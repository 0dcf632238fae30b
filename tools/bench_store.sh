#!/usr/bin/env bash
# The store against MLflow 3 on its SQLite backend (issue 17 item 6): benches/store.rs and
# tools/bench_store_mlflow.py, the same workload (RUNS runs x STEPS steps x 4 metrics logged in
# batches of BATCH, then scores; then listing the experiment), same machine. Prints both and the
# ratios: acdc's batched logging rate / MLflow's (goal >= 20), and acdc ls / report of the runs
# (goal < 1 s each) beside MLflow's search_runs.
#
# Usage (repository root):  tools/bench_store.sh
# Env: STORE_BENCH_RUNS (1000), STORE_BENCH_STEPS (50), STORE_BENCH_BATCH (200),
#      MLFLOW_VENV (default /work/venv-mlflow; created with `pip install "mlflow>=3,<4"` if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${STORE_BENCH_RUNS:-1000}"
STEPS="${STORE_BENCH_STEPS:-50}"
BATCH="${STORE_BENCH_BATCH:-200}"
VENV="${MLFLOW_VENV:-/work/venv-mlflow}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import mlflow" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "mlflow>=3,<4"
fi
echo "== acdc (cargo bench --bench store)"
acdc_out=$(STORE_BENCH_RUNS="$RUNS" STORE_BENCH_STEPS="$STEPS" STORE_BENCH_BATCH="$BATCH" \
  cargo bench --bench store 2>/dev/null | grep '^RESULT' | sed 's/^RESULT //')
echo "$acdc_out"
echo "== MLflow ($("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)'), SQLite backend)"
mlflow_out=$("$VENV/bin/python" tools/bench_store_mlflow.py --runs "$RUNS" --steps "$STEPS" --batch "$BATCH" 2>/dev/null)
echo "$mlflow_out"
python3 - "$acdc_out" "$mlflow_out" <<'PY'
import json, sys
a, m = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"batched logging: acdc {a['log_points_per_s']:.0f} points/s, MLflow {m['log_points_per_s']:.0f} points/s, "
      f"ratio {a['log_points_per_s'] / m['log_points_per_s']:.1f}x (goal >= 20x)")
print(f"{a['runs']} runs: acdc ls {a['ls_s']:.3f} s, acdc report {a['report_s']:.3f} s (goal < 1 s each); "
      f"MLflow search_runs {m['search_runs_s']:.3f} s")
PY
