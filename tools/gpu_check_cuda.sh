#!/usr/bin/env bash
# GPU check of burn's CUDA backend (issue 15): a random-init Llama of about 1.2B parameters
# (Llama-3.2-1B's shape) on one NVIDIA GPU in bf16 and f32 — logits on an 8-token prompt against a
# CPU float32 run of the same weights, prefill and greedy-decode tokens/s at batch 1 / 8 / 64 — and,
# on the same GPU, the same model and measurements in PyTorch + transformers (bf16, sdpa) as the
# reference. Decode at batch 1 is compared with the memory-bandwidth bound (weight bytes ÷ the
# GPU's bandwidth) in summary.json.
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
    # The bandwidth bound of decode at batch 1: every weight read once per token.
    python3 - "$out" >"$out/summary.json" <<'EOF' || true
import json, sys
out = sys.argv[1]
name = open(out + "/gpu.txt").read()
bw = 4.8e12 if "H200" in name else 3.35e12 if "H100" in name else None
torch_ = json.load(open(out + "/torch-bf16.json"))
bound = bw / torch_["weight_bytes"] if bw else None
print(json.dumps({"gpu": name.strip(), "bandwidth_B_s": bw, "weight_bytes_bf16": torch_["weight_bytes"],
                  "decode_bound_tok_s_batch1": bound}, indent=1))
EOF
    cat "$out/summary.json" || true
    ;;
*)
    echo "usage: $0 build | run OUTDIR" >&2
    exit 2
    ;;
esac
