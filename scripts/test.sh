#!/usr/bin/env bash
# The project's one test command (README "Quick start"; CI runs exactly this).
# Installs what the tests need on a fresh Debian machine (memcached, and
# chromium for the report-rendering test; pymemcache into a virtual
# environment for the Python client), then runs every check in stages,
# each announced and timed: formatting, clippy with warnings as errors, every
# test (the model checkers included, loom within its CI bound), the suite
# hunting the broken catalogue, the suite on real memcached, and the
# determinism check. One build serves every stage: the `ci` profile (release
# speed, debug assertions and overflow checks on) with the `models` feature.
# Tests that need memcached start their own servers on free loopback ports.
# About 8 minutes from a clean clone on 2 cores (README says where the time
# goes); longer runs (exhaustive loom, more seeds) are separate commands.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian package $2 unless command $1 exists (needs root).
ensure() {
  if command -v "$1" >/dev/null 2>&1; then
    return
  fi
  ensure_package "$2"
}

# Installs Debian package $1 (needs root).
ensure_package() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "Debian's $1 package is needed and this is not root: install it first" >&2
    exit 1
  fi
  echo "installing $1 from Debian's packages..."
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

build=(--profile ci --locked --features memcache-sim/models)
# The binary `cargo test` builds for the integration tests: run as it is,
# since `cargo run -p memcache-sim` would resolve features without the
# workspace's dev-dependencies and build everything a second time.
mcsim=${CARGO_TARGET_DIR:-target}/ci/mcsim
started=$(date +%s)
stages=()

# Runs stage $1 (a name) as the rest of the arguments, with a banner and its
# wall time; `set -e` ends the command at the first failing stage.
stage() {
  local name=$1
  shift
  local begin
  begin=$(date +%s)
  printf '\n==> %s: %s\n' "$name" "$*"
  "$@"
  local took=$(($(date +%s) - begin))
  stages+=("$name ${took}s")
  printf '==> %s passed in %ss\n' "$name" "$took"
}

setup() {
  ensure memcached memcached
  # The HTML report test renders a page in headless Chromium.
  ensure chromium chromium
  # The Python client's stage makes a virtual environment.
  ensure python3 python3
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    ensure_package python3-venv
  fi
  echo "using $(memcached -V), $(python3 --version)"
}

stage setup setup
stage format cargo fmt --all -- --check
# In the `ci` profile, so that the build scripts and proc macros it compiles
# serve the test build too (a cold CI machine compiles them once).
stage lint cargo clippy --profile ci --workspace --all-targets --all-features --locked -- -D warnings
# Every test of both crates, on the one build: unit and integration tests,
# the examples, the model checkers (loom within MODELS_LOOM_PREEMPTIONS=2,
# shuttle 300 schedules per case), the real-memcached tests.
stage tests cargo test --workspace "${build[@]}"
# The suite on the default algorithm (20 seeds per scenario) and every
# catalogued broken variant hunted until caught: a variant that escapes, or
# any unexpected verdict, fails the build. (Shrinking every catch takes
# minutes: `mcsim validate` without `--no-shrink` is the longer run.)
stage validate "$mcsim" validate --seeds 20 --master-seeds 1 --no-shrink
# Three seeds of every scenario, the deque's and MCAS's, on real memcached
# (servers, proxies and faults started by the harness): each must earn a
# verdict it expects. Two runs at a time: a real run mostly waits on
# loopback and its faults' timers, so two workers take about a third of
# one worker's wall time on 2 cores (83 s -> 29 s), verdicts unchanged.
stage real "$mcsim" run scenarios/ --backend real --seeds 3 --threads 2
# The Python client (clients/python) in a virtual environment of its own:
# its unit tests; one seed of every scenario a client process can run, on
# real memcached, with Python clients, then with Rust (`mcsim client`, even
# client numbers) and Python (odd ones) sharing each deque, every verdict
# expected; and its broken copy (a lost reply retried as a lost race) must
# be caught: exit status 1, a correctness failure.
python_client() {
  local venv=${CARGO_TARGET_DIR:-target}/python-venv
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r clients/python/requirements.txt
  (cd clients/python && "$OLDPWD/$venv/bin/python" -m unittest discover -s tests -t .)
  local python="env PYTHONPATH=$PWD/clients/python $PWD/$venv/bin/python -m mcdeque.adapter"
  "$mcsim" run scenarios/ --backend real --seeds 1 --threads 2 --client-cmd "$python"
  "$mcsim" run scenarios/ --backend real --seeds 1 --threads 2 \
    --client-cmd "if [ \$((MCSIM_CLIENT % 2)) = 0 ]; then exec $PWD/$mcsim client; else exec $python; fi"
  local status=0
  "$mcsim" run scenarios/resets.toml --backend real --seeds 3 --threads 2 --variant retry-unknown-cas \
    --client-cmd "$python" >/dev/null 2>&1 || status=$?
  if [ "$status" -ne 1 ]; then
    echo "the broken Python client (retry-unknown-cas) was not caught on resets: exit status $status, not 1" >&2
    return 1
  fi
  echo "the broken Python client (retry-unknown-cas) was caught on resets"
}
stage python python_client
# Determinism as a regression test: 30 seeds of every scenario replay to the
# committed trace hashes (a deliberate change regenerates them).
stage determinism env MCSIM="$mcsim" bash scripts/trace-hashes.sh --check

printf '\nall %d stages passed in %ss: %s\n' "${#stages[@]}" "$(($(date +%s) - started))" "$(IFS=,; echo "${stages[*]}" | sed 's/,/, /g')"
