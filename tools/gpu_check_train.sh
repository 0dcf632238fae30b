#!/usr/bin/env bash
# GPU check of the trainer: trains the adapter for a few hundred steps on the GPU with a random-init
# Llama of about 1B parameters (hidden 2048, 16 layers, 32 heads, 8 KV heads, the builtin tokenizer's
# vocabulary) frozen in half precision, on the synthetic dataset; prints seconds/step, peak GPU memory
# and the loss at the start and the end, and fails unless the loss falls.
#
# burn's wgpu backends have no bf16 arithmetic (and when this was written the `cuda` feature could not
# be built offline; tools/prepare_cuda_build.sh now makes it build), so the frozen weights are f16 here (`train.precision = "f16"`); with a CUDA build the same spec with
# `device = "cuda"` and `train.precision = "bf16"` is the paper setting.
#
#   tools/gpu_check_train.sh build       # here: build into .gpu/ (stripped, xz), loader debs into .gl/
#   tools/gpu_check_train.sh run OUTDIR  # on the GPU machine (carry .gpu and .gl); needs python3 with
#                                        # torch + transformers there to write the random checkpoint
# Env for run: STEPS (default 200), BATCH (8), PRECISION (f16), DEVICE (wgpu), CHECKPOINTING (false; true turns on
# `train.gradient_checkpointing`).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/gpu_common.sh

case "${1:-}" in
build)
    gpu_build wgpu,fusion-autotune acdc-wgpu
    ;;
run)
    out="${2:?give an output directory}"
    mkdir -p "$out"
    gpu_setup acdc-wgpu
    acdc=/tmp/acdc-wgpu
    work=/tmp/train-check
    rm -rf "$work"
    mkdir -p "$work"
    export ACDC_HOME="$work/home"
    # The builtin tokenizer (built on first use) gives the vocabulary.
    "$acdc" lm tokenize --model builtin:tiny "a dog barks" >/dev/null
    # The random model is kept between runs (e.g. with and without CHECKPOINTING).
    model=/tmp/gpu-check-llm-1b
    [ -f "$model/config.json" ] || python3 - "$ACDC_HOME/models/builtin-tiny/tokenizer.json" "$model" <<'PY'
import json, shutil, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
tok, out = sys.argv[1], sys.argv[2]
vocab = len(json.load(open(tok))["model"]["vocab"]) + len(json.load(open(tok))["added_tokens"])
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=vocab, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                  num_attention_heads=32, num_key_value_heads=8, rms_norm_eps=1e-5, rope_theta=500000.0,
                  max_position_embeddings=8192, tie_word_embeddings=False)
m = LlamaForCausalLM(cfg).to(torch.bfloat16)
m.save_pretrained(out)
shutil.copy(tok, out + "/tokenizer.json")
print("random Llama:", sum(p.numel() for p in m.parameters()), "parameters, vocab", vocab)
PY
    cat >"$work/train-check.toml" <<EOF
[experiment]
name = "gpu-train-check"
[defaults]
backbone = "$model"
device = "${DEVICE:-wgpu}"
encoder.checkpoint = "builtin:tiny-eat"
encoder.target_frames = 192
adapter.hidden = 1024
targets.kind = "caption"
train.steps = ${STEPS:-200}
train.batch_size = ${BATCH:-8}
train.lr = 1e-3
train.warmup_steps = 20
train.checkpoint_every = 100
train.log_every = 10
train.precision = "${PRECISION:-f16}"
train.gradient_checkpointing = ${CHECKPOINTING:-false}
decode.max_new_tokens = 4
data.train = [{ dataset = "synth", split = "train" }]
data.eval_aac = [{ dataset = "synth", split = "test", max_items = 4 }]
data.eval_aqa = [{ dataset = "synth", split = "test", max_items = 2 }]
data.synth = { clips = 64, seed = 3, clip_seconds = 2.0 }
[runs.adapter]
EOF
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 >"$out/gpu_mem.log" &
    smi=$!
    start=$(date +%s)
    set +e
    "$acdc" run "$work/train-check.toml" --no-report 2>&1 | tail -20 | tee "$out/run.log"
    set -e
    end=$(date +%s)
    kill $smi || true
    python3 - "$ACDC_HOME/acdc.db" "$out/gpu_mem.log" "$start" "$end" <<'PY' | tee "$out/summary.txt"
import sqlite3, sys
db, mem, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = sqlite3.connect(db)
run = c.execute("select id, status, error from runs").fetchone()
print("run", run)
series = lambda name: c.execute(
    "select step, value from step_metrics where run_id=? and name=? order by step", (run[0], name)
).fetchall()
loss, sps, tps = series("loss"), series("seconds_per_step"), series("tokens_per_s")
for st in c.execute("select stage, status, started_at, finished_at, info from stages where run_id=?", (run[0],)):
    print("stage", st)
peak = max((float(l) for l in open(mem) if l.strip()), default=float("nan"))
print(f"wall {end - start} s, peak GPU memory {peak:.0f} MiB (nvidia-smi, whole device)")
if loss:
    head = sum(v for _, v in loss[:3]) / len(loss[:3])
    tail = sum(v for _, v in loss[-3:]) / len(loss[-3:])
    print(f"loss: step {loss[0][0]} {loss[0][1]:.4f} -> step {loss[-1][0]} {loss[-1][1]:.4f} (mean of first 3 logged {head:.4f}, last 3 {tail:.4f})")
    later = [v for s, v in sps if s > 1]
    if later:
        later.sort()
        print(f"seconds/step (median over logged steps after the first): {later[len(later)//2]:.3f}; tokens/s {[round(v) for _, v in tps][-3:]}")
    print("LOSS FALLS" if tail < head else "LOSS DOES NOT FALL")
else:
    print("no loss recorded")
PY
    ;;
*)
    echo "usage: $0 build | run OUTDIR" >&2
    exit 2
    ;;
esac
