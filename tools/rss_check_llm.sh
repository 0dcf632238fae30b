#!/usr/bin/env bash
# Peak memory when acdc loads a multi-shard checkpoint, against the size of the weights.
# Writes a random Llama (hidden 1024, 12 layers, 16 heads, 4 KV heads, vocab 32000: ~200M parameters)
# with transformers as 200 MB shards, f32 and bf16 on disk, then runs `acdc lm logits` on 3 tokens under
# /usr/bin/time -v and prints the peak RSS next to the weights' in-memory size (acdc keeps f32).
# burn-store memory-maps safetensors files, so loading should not hold a second copy.
#
# Usage (repository root):  tools/rss_check_llm.sh        Env: PYTHON, ACDC (default target/release/acdc)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-/work/venv-ref/bin/python}"
[ -x "$PY" ] || PY=python3
ACDC="${ACDC:-target/release/acdc}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$PY" - "$dir" <<'PY'
import sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=32000, hidden_size=1024, intermediate_size=2816, num_hidden_layers=12,
                  num_attention_heads=16, num_key_value_heads=4, tie_word_embeddings=False)
m = LlamaForCausalLM(cfg).eval()
m.save_pretrained(sys.argv[1] + "/f32", max_shard_size="200MB")
m.to(torch.bfloat16).save_pretrained(sys.argv[1] + "/bf16", max_shard_size="200MB")
print("parameters", sum(p.numel() for p in m.parameters()))
PY
home=$(mktemp -d)
for d in f32 bf16; do
  shards=$(ls "$dir/$d"/*.safetensors | wc -l)
  disk=$(du -cb "$dir/$d"/*.safetensors | tail -1 | cut -f1)
  rss_kb=$( { ACDC_HOME="$home" /usr/bin/time -v "$ACDC" lm logits --model "$dir/$d" --ids 1,2,3 \
      --out "$home/x.npy" >/dev/null; } 2>&1 | awk '/Maximum resident set size/ {print $NF}')
  "$PY" -c "
disk, rss = $disk, $rss_kb * 1024
f32 = disk if '$d' == 'f32' else disk * 2
print(f'$d: {$shards} shards, {disk/1e6:.0f} MB on disk, {f32/1e6:.0f} MB of f32 weights in memory, '
      f'peak RSS {rss/1e6:.0f} MB = {rss/f32:.2f}x the in-memory weights')"
done
rm -rf "$home"
