#!/usr/bin/env bash
# Writes tests/fixtures/store/release.db and release-report.md with a given acdc release binary:
# the store of tests/fixtures/store/compat.toml (every kind of stage record: data, a failed
# data stage, caption / dialogue / instruction targets, train, eval with probes, both reference
# rows, a set scored by `acdc eval`) and the report that release rendered from it.
# tests/store_compat.rs reads both with the current build: typed records and the same report.
#
#   tools/store_fixture.sh PATH/TO/OLD/acdc COMMIT     (COMMIT: what the binary was built from)
set -euo pipefail
bin=$(realpath "$1")
commit=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/tests/fixtures/store"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$out/compat.toml" .
export ACDC_HOME="$work/home"
"$bin" run compat.toml || true   # the `broken` row fails by design (exit 2)
world=$(ls -d home/data/synth-*/ | head -1)
mkdir held
cp "$world/audio/test/$(ls "$world/audio/test" | sed -n 1p)" held/a.wav
cp "$world/audio/test/$(ls "$world/audio/test" | sed -n 2p)" held/b.wav
printf '%s\n%s\n' \
  '{"id": "h1", "audio": "a.wav", "question": "Is there a dog?", "answer": "Yes."}' \
  '{"id": "h2", "audio": "b.wav", "question": "How many sounds are there?", "answer": "Two."}' \
  > held/held.jsonl
run=$(python3 -c "import sqlite3; print(sqlite3.connect('home/acdc.db').execute(\"select run_id from experiment_runs where label='dialogue'\").fetchone()[0])")
"$bin" eval "$run" --aqa held/held.jsonl --name held
"$bin" report compat
python3 -c "import sqlite3; c = sqlite3.connect('home/acdc.db'); c.execute('pragma wal_checkpoint(TRUNCATE)'); c.close()"
cp home/acdc.db "$out/release.db"
cp reports/compat/README.md "$out/release-report.md"
printf 'release.db and release-report.md: written by tools/store_fixture.sh with acdc built from %s (%s)\n' \
  "$commit" "$("$bin" --version)" > "$out/PROVENANCE"
