#!/usr/bin/env bash
# GPU check of the LLM backbone: a random-init Llama of about 1.2B parameters (Llama-3.2-1B's shape:
# hidden 2048, 16 layers, 32 heads, 8 KV heads, vocab 128256, tied embeddings, llama3 rope scaling)
# runs on the GPU — prefill + greedy decode, batch 1 and 8 — and its logits on an 8-token prompt are
# compared with a CPU float32 run of the same weights. Prints tokens/s and the logit distance as JSON.
#
# This check predates the offline CUDA build (tools/prepare_cuda_build.sh; its GPU check is
# tools/gpu_check_cuda.sh): when it was written burn's `cuda` feature could not be built here, so the GPU path
# here is wgpu over the NVIDIA Vulkan driver, built `--features vulkan,fusion-autotune` (SPIR-V
# compiler, burn's kernel fusion and autotuning). burn's wgpu backends have no bf16 arithmetic (WGSL has
# no bf16; the SPIR-V path registers it for storage and conversion only), so the bf16 step is refused
# with a clear error and f16 stands in for half precision; on a CUDA build the same
# `acdc lm bench --device cuda --dtype bf16` runs bf16.
#
#   tools/gpu_check_llm.sh build      # here: build the binary into .gpu/ (stripped, xz) and fetch
#                                     # the Vulkan loader packages into .gl/
#   tools/gpu_check_llm.sh run OUTDIR # on the GPU machine, from the repo root (carry .gpu and .gl)
#
# On a machine with internet and CUDA, `cargo build --release --features cuda` and
# `acdc lm bench --device cuda --dtype bf16 …` run the same check on burn's CUDA backend.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/gpu_common.sh

case "${1:-}" in
build)
    gpu_build vulkan,fusion-autotune acdc-vulkan
    ;;
run)
    out="${2:?give an output directory}"
    mkdir -p "$out"
    gpu_setup acdc-vulkan
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt" || true
    model=/tmp/llama-1b-random
    llama_1b_config "$model"
    bench() { # binary dtype extra-args…
        local bin=$1 dtype=$2
        shift 2
        echo "== acdc-$bin --dtype $dtype $*" | tee -a "$out/log.txt"
        timeout "${STEP_TIMEOUT:-150}" "/tmp/acdc-$bin" lm bench --model "$model" --random --seed 1 \
            --device wgpu --dtype "$dtype" --check-cpu 8 --json "$@" \
            >"$out/$bin-$dtype.json" 2>>"$out/log.txt" &&
            cat "$out/$bin-$dtype.json" || echo "FAILED (exit $?)" | tee -a "$out/log.txt"
    }
    # bf16: refused on wgpu (see above) before any work; kept so the log says so.
    bench vulkan bf16 --batch 1 --beams 1 --no-timing
    # Half precision as f16, and f32 to separate backend error from rounding.
    bench vulkan f16 --batch 1,8 --beams 1 --prompt-len 128 --new-tokens 32 --repeats 3
    bench vulkan f32 --batch 1,8 --beams 1 --prompt-len 128 --new-tokens 32 --repeats 2
    ;;
*)
    echo "usage: $0 build | run OUTDIR" >&2
    exit 2
    ;;
esac
