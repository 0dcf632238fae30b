#!/usr/bin/env bash
# LLM speed bench: acdc (benches/llm.rs, burn flex f32) vs transformers 5.24 (torch 2.11 fp32, sdpa)
# on the same random Llama (hidden 512, 8 layers, 8 heads, 2 KV heads, vocab 32000), same machine,
# same thread count: prefill and decode tokens/s, greedy and beam 4, batch 1 and 8, prompt 128,
# 32 new tokens. Prints both and the ratio acdc / transformers (> 1: acdc faster).
#
# Usage (repository root):  tools/bench_llm.sh
# Env: PYTHON (default /work/venv-ref/bin/python, else python3), LLM_BENCH_THREADS (default: nproc),
#      LLM_BENCH_BATCH, LLM_BENCH_BEAMS, LLM_BENCH_PROMPT, LLM_BENCH_NEW, LLM_BENCH_REPEATS.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-/work/venv-ref/bin/python}"
[ -x "$PY" ] || PY=python3
T="${LLM_BENCH_THREADS:-$(nproc)}"
BATCH="${LLM_BENCH_BATCH:-1,8}"
BEAMS="${LLM_BENCH_BEAMS:-1,4}"
PROMPT="${LLM_BENCH_PROMPT:-128}"
NEW="${LLM_BENCH_NEW:-32}"
REP="${LLM_BENCH_REPEATS:-3}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$PY" tools/bench_llm_transformers.py make "$dir"
echo "== acdc (cargo bench --bench llm), $T threads"
acdc_out=$(LLM_BENCH_MODEL="$dir" LLM_BENCH_BATCH="$BATCH" LLM_BENCH_BEAMS="$BEAMS" \
  LLM_BENCH_PROMPT="$PROMPT" LLM_BENCH_NEW="$NEW" LLM_BENCH_REPEATS="$REP" RAYON_NUM_THREADS="$T" \
  cargo bench --bench llm 2>/dev/null | grep '^RESULT' | sed 's/^RESULT //')
echo "$acdc_out"
echo "== transformers ($PY), $T threads"
hf_out=$("$PY" tools/bench_llm_transformers.py bench "$dir" --threads "$T" --batch "$BATCH" \
  --beams "$BEAMS" --prompt-len "$PROMPT" --new-tokens "$NEW" --repeats "$REP")
echo "$hf_out"
echo "== summary (tokens/s; ratio = acdc / transformers)"
"$PY" - "$acdc_out" "$hf_out" <<'PY'
import json, sys
a = {(r["batch"], r["beams"]): r for r in map(json.loads, sys.argv[1].splitlines())}
h = {(r["batch"], r["beams"]): r for r in map(json.loads, sys.argv[2].splitlines())}
print("| batch | beams | prefill acdc | prefill hf | ratio | decode acdc | decode hf | ratio | generate ms acdc | hf | ratio |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for k in sorted(a):
    x, y = a[k], h[k]
    print(f"| {k[0]} | {k[1]} | {x['prefill_tok_s']:.0f} | {y['prefill_tok_s']:.0f} | {x['prefill_tok_s']/y['prefill_tok_s']:.2f}x "
          f"| {x['decode_tok_s']:.1f} | {y['decode_tok_s']:.1f} | {x['decode_tok_s']/y['decode_tok_s']:.2f}x "
          f"| {x['total_ms']:.0f} | {y['total_ms']:.0f} | {y['total_ms']/x['total_ms']:.2f}x |")
PY
