#!/usr/bin/env bash
# The suite's trace hashes: one line per scenario and seed (scenario, seed,
# trace hash, verdict), for seeds 0..N (default 30) of every scenario under
# scenarios/. A simulated run is a pure function of its plan, so equal lines
# mean equal runs: a refactor that changes no behaviour changes no line.
#
#   bash scripts/trace-hashes.sh              # print the table
#   bash scripts/trace-hashes.sh --check      # compare with the committed baseline
#   bash scripts/trace-hashes.sh --write      # regenerate the baseline (a deliberate
#                                             # change of behaviour: say why in the commit)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-30}
baseline=reports/baselines/trace-hashes-$seeds.tsv
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The binary to run: $MCSIM if set (the test command passes its own build),
# else a release build.
if [ -z "${MCSIM:-}" ]; then
  cargo build --release --locked -q -p memcache-sim
  MCSIM=${CARGO_TARGET_DIR:-target}/release/mcsim
fi
"$MCSIM" run scenarios/ --seeds "$seeds" --json --report "$dir/runs" > /dev/null || true
python3 - "$dir/runs" > "$dir/table.tsv" <<'PY'
import glob, json, sys
rows = []
for path in glob.glob(sys.argv[1] + "/*/seed-*.json"):
    if path.endswith(".history.json"):
        continue
    record = json.load(open(path))
    rows.append((record["scenario"], record["seed"], record.get("trace_hash", "-"), record["verdict"]))
for row in sorted(rows):
    print("\t".join(map(str, row)))
PY
case "${1:-}" in
  --write) cp "$dir/table.tsv" "$baseline"; echo "wrote $baseline ($(wc -l < "$baseline") runs)" ;;
  --check)
    if diff -u "$baseline" "$dir/table.tsv" > "$dir/diff"; then
      echo "trace hashes: $(wc -l < "$baseline") runs identical to $baseline"
    else
      echo "trace hashes differ from $baseline (a run changed behaviour):" >&2
      head -40 "$dir/diff" >&2
      echo "if the change is deliberate: bash scripts/trace-hashes.sh --write" >&2
      exit 1
    fi ;;
  *) cat "$dir/table.tsv" ;;
esac
