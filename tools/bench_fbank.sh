#!/usr/bin/env bash
# fbank speed bench: acdc (benches/fbank.rs) vs torchaudio.compliance.kaldi.fbank
# (tools/bench_fbank_torchaudio.py) on the same 10 s, 16 kHz clips, 1 and 2 threads.
# Prints audio-seconds per second for both and the ratio acdc / torchaudio (> 1: acdc faster).
#
# Usage (repository root):  tools/bench_fbank.sh
# Env: PYTHON (default /work/venv-ref/bin/python, else python3), FBANK_BENCH_SECS (default 3),
#      FBANK_BENCH_CLIPS (default 8), CARGO_TARGET_DIR as usual.
# Needs `[[bench]] name = "fbank" harness = false` in Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-/work/venv-ref/bin/python}"
[ -x "$PY" ] || PY=python3
SECS="${FBANK_BENCH_SECS:-3}"
CLIPS="${FBANK_BENCH_CLIPS:-8}"
export FBANK_BENCH_SECS="$SECS" FBANK_BENCH_CLIPS="$CLIPS"

echo "== acdc (cargo bench --bench fbank)"
acdc_out=$(cargo bench --bench fbank 2>/dev/null | grep '^RESULT')
echo "$acdc_out"
echo "== torchaudio ($PY)"
ta_out=$("$PY" tools/bench_fbank_torchaudio.py --secs "$SECS" --clips "$CLIPS")
echo "$ta_out"

rate() { # impl threads
  printf '%s\n%s\n' "$acdc_out" "$ta_out" | grep "impl=$1 threads=$2 " \
    | sed -E 's/.*audio_s_per_s=([0-9.]+).*/\1/'
}
echo "== summary (audio-seconds per second; ratio = acdc / torchaudio)"
for t in 1 2; do
  a=$(rate acdc $t); b=$(rate torchaudio $t)
  awk -v t="$t" -v a="$a" -v b="$b" \
    'BEGIN { printf "threads=%s  acdc %10.1f  torchaudio %10.1f  ratio %.2fx\n", t, a, b, a / b }'
done
