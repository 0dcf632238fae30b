#!/usr/bin/env bash
# GPU check of burn's CUDA backend (issue 15): a random-init Llama of about 1.2B parameters
# (Llama-3.2-1B's shape) on one NVIDIA GPU in bf16 and f32 — logits on an 8-token prompt against a
# CPU float32 run of the same weights, prefill and greedy-decode tokens/s at batch 1 / 8 / 64 — and,
# on the same GPU, the same model and measurements in PyTorch + transformers (bf16, sdpa) as the
# reference. Decode at batch 1 is compared with the memory-bandwidth bound (weight bytes ÷ the
# GPU's bandwidth) in summary.json, and the adapter training step with the backbone frozen in bf16
# (`acdc lm bench-train`) with the same step in PyTorch (tools/bench_train_torch.py --device cuda),
# time and peak memory.
#
#   tools/gpu_check_cuda.sh build      # here: prepare the offline CUDA build, build acdc with
#                                      # --features cuda, strip and compress it into .gpu/
#   tools/gpu_check_cuda.sh run OUTDIR # on the GPU machine, from the repo root (carry .gpu)
#
# The GPU machine has no Rust and no network: the binary travels (about 32 MB compressed; the
# device tool carries at most 64 MiB). At run time burn's CUDA kernels that call exp/tanh need
# libdevice, which the machine's CUDA toolkit has (CUDA_PATH, default /usr/local/cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/gpu_common.sh

case "${1:-}" in
build)
    . tools/prepare_cuda_build.sh
    cargo build --release --features cuda --bin acdc
    mkdir -p .gpu
    strip -o .gpu/acdc-cuda target/release/acdc
    xz -T0 -6 -f .gpu/acdc-cuda
    ls -la .gpu
    ;;
run)
    out="${2:?give an output directory}"
    mkdir -p "$out"
    export CUDA_PATH="${CUDA_PATH:-/usr/local/cuda}"
    xz -dkc .gpu/acdc-cuda.xz >/tmp/acdc-cuda
    chmod +x /tmp/acdc-cuda
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt" || true
    model=/tmp/llama-1b-random
    llama_1b_config "$model"
    bench() { # dtype extra-args…
        local dtype=$1
        shift
        echo "== acdc-cuda --dtype $dtype $*" | tee -a "$out/log.txt"
        timeout "${STEP_TIMEOUT:-200}" /tmp/acdc-cuda lm bench --model "$model" --random --seed 1 \
            --device cuda --dtype "$dtype" --json "$@" \
            >"$out/acdc-$dtype.json" 2>>"$out/log.txt" &&
            cat "$out/acdc-$dtype.json" || echo "FAILED (exit $?)" | tee -a "$out/log.txt"
    }
    bench bf16 --check-cpu 8 --batch 1,8,64 --beams 1 --prompt-len 128 --new-tokens 32 --repeats 3
    bench f32 --check-cpu 8 --batch 1,8 --beams 1 --prompt-len 128 --new-tokens 32 --repeats 2
    echo "== transformers bf16 on the same GPU" | tee -a "$out/log.txt"
    timeout "${STEP_TIMEOUT:-200}" python3 - "$model" >"$out/torch-bf16.json" 2>>"$out/log.txt" <<'EOF' || echo "FAILED torch" | tee -a "$out/log.txt"
import json, statistics, sys, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM
cfg = LlamaConfig(**json.load(open(sys.argv[1] + "/config.json")))
torch.manual_seed(1)
m = LlamaForCausalLM(cfg).to(device="cuda", dtype=torch.bfloat16).eval()
weights = sum(p.numel() * p.element_size() for p in m.parameters())
out = []
for b in (1, 8, 64):
    ids = torch.randint(0, cfg.vocab_size, (b, 128), device="cuda")
    def prefill():
        torch.cuda.synchronize(); t = time.perf_counter()
        with torch.no_grad():
            m(ids, use_cache=True)
        torch.cuda.synchronize(); return time.perf_counter() - t
    def gen():
        torch.cuda.synchronize(); t = time.perf_counter()
        with torch.no_grad():
            m.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=32, min_new_tokens=32,
                       do_sample=False, pad_token_id=0)
        torch.cuda.synchronize(); return time.perf_counter() - t
    prefill(); gen()
    p = statistics.median(prefill() for _ in range(3))
    g = statistics.median(gen() for _ in range(3))
    out.append({"batch": b, "prefill_tok_s": b * 128 / p, "decode_tok_s": b * 32 / max(g - p, 1e-9)})
print(json.dumps({"engine": "transformers", "dtype": "bf16", "weight_bytes": weights, "cases": out}))
EOF
    cat "$out/torch-bf16.json" || true
    # The adapter training step (train::step_bench's shape: batch 8, 100 EAT-base frames stacked
    # by 5, 32 prompt + 48 target tokens, AdamW) with the backbone frozen in bf16, acdc then
    # PyTorch; peak memory from nvidia-smi (acdc) and torch.cuda.max_memory_allocated (PyTorch).
    echo "== adapter training step, bf16 frozen backbone" | tee -a "$out/log.txt"
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$out/train_mem.log" &
    smi=$!
    timeout "${STEP_TIMEOUT:-200}" /tmp/acdc-cuda lm bench-train --model "$model" --random --seed 1 \
        --device cuda --dtype bf16 --steps 10 --warmup 3 >"$out/acdc-train.json" 2>>"$out/log.txt" ||
        echo "FAILED acdc bench-train" | tee -a "$out/log.txt"
    kill $smi 2>/dev/null || true
    cat "$out/acdc-train.json" || true
    timeout "${STEP_TIMEOUT:-200}" python3 tools/bench_train_torch.py "$model" --random --threads "$(nproc)" \
        --device cuda --dtype bf16 --steps 10 --warmup 3 >"$out/torch-train.json" 2>>"$out/log.txt" ||
        echo "FAILED torch train step" | tee -a "$out/log.txt"
    cat "$out/torch-train.json" || true
    # The bandwidth bound of decode at batch 1: every weight read once per token.
    python3 - "$out" >"$out/summary.json" <<'EOF' || true
import json, sys
out = sys.argv[1]
name = open(out + "/gpu.txt").read()
bw = 4.8e12 if "H200" in name else 3.35e12 if "H100" in name else None
torch_ = json.load(open(out + "/torch-bf16.json"))
bound = bw / torch_["weight_bytes"] if bw else None
def load(f):
    try:
        return json.load(open(out + "/" + f))
    except Exception:
        return None
acdc = load("acdc-bf16.json")
dec1 = next((r["decode_tok_s"] for r in (acdc or {}).get("rows", []) if r["batch"] == 1 and r["beams"] == 1), None)
at, tt = load("acdc-train.json"), load("torch-train.json")
try:
    peak = max(float(l) for l in open(out + "/train_mem.log") if l.strip())
except Exception:
    peak = None
print(json.dumps({"gpu": name.strip(), "bandwidth_B_s": bw, "weight_bytes_bf16": torch_["weight_bytes"],
                  "decode_bound_tok_s_batch1": bound, "acdc_decode_tok_s_batch1": dec1,
                  "decode_share_of_bound": dec1 / bound if dec1 and bound else None,
                  "train_ms_acdc": at and at["ms_per_step"], "train_ms_torch": tt and tt["ms_per_step"],
                  "train_speed_vs_torch": tt["ms_per_step"] / at["ms_per_step"] if at and tt else None,
                  "train_peak_mem_mb_acdc_nvidia_smi": peak,
                  "train_peak_mem_mb_torch_allocated": tt and tt.get("peak_mem_mb")}, indent=1))
EOF
    cat "$out/summary.json" || true
    ;;
*)
    echo "usage: $0 build | run OUTDIR" >&2
    exit 2
    ;;
esac
