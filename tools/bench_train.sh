#!/usr/bin/env bash
# Adapter training-step bench: acdc (benches/train_step.rs, burn flex f32) vs PyTorch 2.11
# (tools/bench_train_torch.py, transformers' Llama, fp32) on the same random frozen Llama (hidden 512,
# 8 layers, 8 heads, 2 KV heads, vocab 32000), batch 8, 100 encoder frames stacked by 5, 32 prompt +
# 48 target tokens, AdamW; same machine, same thread count. Prints both and the ratio
# torch ms/step ÷ acdc ms/step (> 1: acdc faster).
#
# Usage (repository root):  tools/bench_train.sh
# Env: PYTHON (default /work/venv-ref/bin/python, else python3), TRAIN_BENCH_THREADS (default: nproc),
#      TRAIN_BENCH_STEPS (10), TRAIN_BENCH_WARMUP (2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-/work/venv-ref/bin/python}"
[ -x "$PY" ] || PY=python3
T="${TRAIN_BENCH_THREADS:-$(nproc)}"
STEPS="${TRAIN_BENCH_STEPS:-10}"
WARMUP="${TRAIN_BENCH_WARMUP:-2}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$PY" tools/bench_llm_transformers.py make "$dir"
echo "== acdc (cargo bench --bench train_step), $T threads"
acdc_out=$(TRAIN_BENCH_MODEL="$dir" TRAIN_BENCH_STEPS="$STEPS" TRAIN_BENCH_WARMUP="$WARMUP" \
  RAYON_NUM_THREADS="$T" cargo bench --bench train_step 2>/dev/null | grep '^RESULT' | sed 's/^RESULT //')
echo "$acdc_out"
echo "== PyTorch ($PY), $T threads"
torch_out=$("$PY" tools/bench_train_torch.py "$dir" --threads "$T" --steps "$STEPS" --warmup "$WARMUP")
echo "$torch_out"
"$PY" - "$acdc_out" "$torch_out" <<'PY'
import json, sys
a, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("| impl | ms/step | tokens/s |")
print("|---|---:|---:|")
for r in (a, t):
    print(f"| {r['impl']} | {r['ms_per_step']:.1f} | {r['tokens_per_s']:.0f} |")
print(f"ratio (torch ms/step / acdc ms/step): {t['ms_per_step'] / a['ms_per_step']:.2f}x")
PY
