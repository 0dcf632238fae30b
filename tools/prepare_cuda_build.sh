#!/usr/bin/env bash
# Prepare `cargo build --features cuda` on a machine that cannot reach GitHub (CI, the dev box).
#
#   . tools/prepare_cuda_build.sh      # sourced: also exports CUDARC_CUDA_VERSION
#   tools/prepare_cuda_build.sh        # run: prepares, and prints the export to use
#
# burn's CUDA backend needs cubecl-llvm (NVPTX code generation), whose build dependency
# tracel-llvm-bundler downloads an LLVM bundle from GitHub into
# ${XDG_DATA_HOME:-~/.local/share}/tracel/tracel-llvm-<version>/ unless the file
# `.tracel-llvm-installed` is already there. Debian's LLVM 22 (llvm-22-dev, with Polly) stands in for
# it: this script installs the Debian packages, and puts in that directory a `bin/llvm-config` that
# runs Debian's and rewrites the absolute library paths of `--system-libs` (`/…/libz3.so`) into
# `-lz3` (the bundler would turn them into `-llibz3`), plus the marker file. cudarc's build script
# wants a CUDA version and there is no nvcc here: CUDARC_CUDA_VERSION=12080 selects the CUDA 12.8
# driver API (libcuda is loaded at run time; any driver >= 12.8 works).
#
# Idempotent: packages already installed and a stand-in already in place are left as they are. Where
# GitHub is reachable nothing here is needed, and it does no harm: the bundler finds its directory
# prepared and uses Debian's LLVM. It serves exactly the tracel-llvm-bundler version in Cargo.lock and
# stops with a message when that version has no stand-in recipe here. Measured facts (build time,
# binary size, code generation checks) are in the repository's notes on the offline CUDA build
# (README, "CUDA").

_acdc_cuda_prepare() {
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local want="23.1.0-4"
    local locked
    locked="$(awk '/^name = "tracel-llvm-bundler"/{getline; gsub(/version = |"/, ""); print; exit}' "$root/Cargo.lock")"
    if [ -z "$locked" ]; then
        echo "prepare_cuda_build: Cargo.lock has no tracel-llvm-bundler (the cuda feature's LLVM); nothing to prepare" >&2
        return 0
    fi
    if [ "$locked" != "$want" ]; then
        echo "prepare_cuda_build: Cargo.lock asks for tracel-llvm-bundler $locked, this script serves $want; check where the new version looks and what LLVM it expects, then update the script" >&2
        return 1
    fi

    local packages=(llvm-22-dev libpolly-22-dev zlib1g-dev libzstd-dev libxml2-dev libz3-dev
        libffi-dev libedit-dev libncurses-dev)
    local missing=()
    local p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "prepare_cuda_build: installing ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    local real=/usr/lib/llvm-22/bin/llvm-config
    [ -x "$real" ] || { echo "prepare_cuda_build: $real is missing after installing llvm-22-dev" >&2; return 1; }

    local data="${XDG_DATA_HOME:-$HOME/.local/share}"
    local dir="$data/tracel/tracel-llvm-$want"
    mkdir -p "$dir/bin"
    cat >"$dir/bin/llvm-config.tmp" <<EOF
#!/bin/sh
# Stand-in for tracel-llvm $want's llvm-config (written by acdc's tools/prepare_cuda_build.sh):
# Debian's LLVM 22, with absolute library paths turned into -l flags.
"$real" "\$@" | sed -E 's#/[^ ]*/lib([^/ ]+)\\.(so|a)#-l\1#g'
EOF
    chmod +x "$dir/bin/llvm-config.tmp"
    mv "$dir/bin/llvm-config.tmp" "$dir/bin/llvm-config"
    touch "$dir/.tracel-llvm-installed"
    if "$dir/bin/llvm-config" --link-static --system-libs | grep -q '/'; then
        echo "prepare_cuda_build: $dir/bin/llvm-config still prints a path in --system-libs" >&2
        return 1
    fi
    echo "prepare_cuda_build: LLVM $("$real" --version) stands in for tracel-llvm $want at $dir" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
fi
_acdc_cuda_prepare
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-12080}"
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "export CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION"
fi
