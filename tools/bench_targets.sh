#!/usr/bin/env bash
# Target-generation throughput: acdc (benches/targets.rs: the sampling generation targets::build runs)
# vs transformers 5.24 generate(do_sample=True) (tools/bench_llm_transformers.py targets), fp32, on the
# same random Llama (hidden 512, 8 layers, vocab 32000), 32 prompts of 40 tokens, 48 new tokens,
# temperature 0.7, same machine and thread count. Prints replies/s of both and the ratio.
#
# Usage (repository root):  tools/bench_targets.sh
# Env: PYTHON (default /work/venv-ref/bin/python, else python3), TARGETS_BENCH_THREADS (default: nproc),
#      TARGETS_BENCH_REPEATS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-/work/venv-ref/bin/python}"
[ -x "$PY" ] || PY=python3
T="${TARGETS_BENCH_THREADS:-$(nproc)}"
REP="${TARGETS_BENCH_REPEATS:-3}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$PY" tools/bench_llm_transformers.py make "$dir"
acdc_out=$(TARGETS_BENCH_MODEL="$dir" TARGETS_BENCH_REPEATS="$REP" RAYON_NUM_THREADS="$T" \
  cargo bench --bench targets 2>/dev/null | grep '^RESULT' | sed 's/^RESULT //')
hf_out=$("$PY" tools/bench_llm_transformers.py targets "$dir" --threads "$T" --repeats "$REP" 2>/dev/null | tail -1)
echo "acdc:         $acdc_out"
echo "transformers: $hf_out"
"$PY" - "$acdc_out" "$hf_out" <<'PY'
import json, sys
a, h = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"replies/s: acdc {a['replies_per_s']:.2f}, transformers {h['replies_per_s']:.2f}, "
      f"ratio {a['replies_per_s'] / h['replies_per_s']:.2f}x (acdc faster when > 1)")
PY
