#!/usr/bin/env bash
# Captioning-metrics speed: acdc (benches/metrics.rs) vs pycocoevalcap 1.2 (tools/bench_metrics.py) on
# the same 975 items x 5 references, BLEU-1..4 + ROUGE-L + CIDEr-D with PTB tokenization (pycocoevalcap's
# through java, acdc's in Rust), one thread each. Prints both times, both corpus scores and the ratio.
#
# Usage (repository root):  tools/bench_metrics.sh     Env: PYTHON (default python3 with pycocoevalcap)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
f=$(mktemp --suffix .json)
trap 'rm -f "$f"' EXIT
"$PY" tools/bench_metrics.py make "$f"
acdc_out=$(METRICS_BENCH_INPUT="$f" RAYON_NUM_THREADS=1 cargo bench --bench metrics 2>/dev/null | grep '^RESULT' | sed 's/^RESULT //')
py_out=$("$PY" tools/bench_metrics.py bench "$f" --repeats 3 | grep "\"impl\": \"pycocoevalcap\"")
echo "acdc:          $acdc_out"
echo "pycocoevalcap: $py_out"
"$PY" - "$acdc_out" "$py_out" <<'PY'
import json, sys
a, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{a['items']} items: acdc {a['seconds']*1e3:.1f} ms, pycocoevalcap {p['seconds']*1e3:.1f} ms, "
      f"ratio {p['seconds']/a['seconds']:.1f}x (acdc faster when > 1)")
for k in sorted(p["corpus"]):
    print(f"  {k}: acdc {a['corpus'][k]:.6f}  pycocoevalcap {p['corpus'][k]:.6f}")
PY
