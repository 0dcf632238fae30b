# Shared by tools/gpu_check_*.sh (sourced, not run): building the GPU binary here and setting up
# NVIDIA's Vulkan driver on the GPU machine, which has no Rust and no network.

# gpu_build FEATURES NAME: build acdc with FEATURES, strip it into .gpu/NAME.xz, and download the
# Vulkan loader's Debian packages into .gl/ (carry both to the GPU machine).
gpu_build() {
    local features="$1" name="$2"
    mkdir -p .gpu
    cargo build --release --features "$features" --bin acdc
    strip -o ".gpu/$name" target/release/acdc
    xz -T0 -6 -f ".gpu/$name"
    mkdir -p .gl /tmp/amd64/partial
    local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update >/dev/null
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    ls -la .gpu .gl
}

# gpu_setup NAME: on the GPU machine, install the Vulkan loader from .gl/ if it is missing, point
# Vulkan at NVIDIA's driver, and unpack .gpu/NAME.xz to /tmp/NAME (CUBECL_AUTOTUNE_LEVEL defaults
# to minimal).
gpu_setup() {
    local name="$1"
    if ! ldconfig -p | grep -q libvulkan; then
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" CUBECL_AUTOTUNE_LEVEL="${CUBECL_AUTOTUNE_LEVEL:-minimal}"
    xz -dkc ".gpu/$name.xz" >"/tmp/$name"
    chmod +x "/tmp/$name"
}

# llama_1b_config DIR: write DIR/config.json of a ~1.2B Llama (Llama-3.2-1B's shape: hidden 2048,
# 16 layers, 32 heads, 8 KV heads, vocab 128256, tied embeddings, llama3 rope scaling), for
# `acdc lm bench --random` and the PyTorch reference of the GPU checks.
llama_1b_config() {
    mkdir -p "$1"
    cat >"$1/config.json" <<'EOF'
{"model_type": "llama", "vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 8192,
 "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
 "rms_norm_eps": 1e-5, "tie_word_embeddings": true,
 "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192}, "rope_theta": 500000.0}
EOF
}
