#!/usr/bin/env bash
# Regenerate the miniature's findings in experiments/README.md, in one command:
#
#   tools/miniature_findings.sh
#
# runs (or, where the store already holds them, reuses) the quickstart — AC/DC's two claims in
# miniature: caption vs dialogue-continuation targets × frozen vs LoRA, three seeds, with the
# text-oracle and no-audio reference rows — and, on the same toy world and models, the temperature
# ablation (0.3 / 0.7 / 1.0) and the samples-per-caption ablation (1 vs 3), three seeds each, then
# copies the numbers of their reports between the findings markers of experiments/README.md.
# Runs whose configuration is the quickstart's (temperature 0.7, one sample) are the quickstart's
# own runs, so they are not trained twice. About 10 minutes on 2 cores after the build on a fresh
# store (4.5 of them building the toy models, once); the store
# is $ACDC_HOME (default ./acdc-home), the reports go to reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
acdc=target/release/acdc
seeds='sweep.seeds=[0, 1, 2]'

$acdc run experiments/quickstart.toml
$acdc run ablations/temperature.toml --overlay miniature --set "$seeds" --workers 2
$acdc run ablations/samples_per_caption.toml --overlay miniature --set "$seeds" \
  --set 'sweep."targets.samples_per_caption"=[1, 3]' --workers 2

python3 tools/splice_findings.py experiments/README.md \
  "Quickstart: caption vs dialogue targets × frozen vs LoRA=reports/quickstart/README.md" \
  "Temperature of the dialogue targets=reports/ablation-temperature-miniature/README.md" \
  "Samples per caption=reports/ablation-samples-per-caption-miniature/README.md"
echo "experiments/README.md updated; say what the numbers mean outside the findings markers."
