#!/usr/bin/env bash
# The project's one test command (README "Quick start"; CI runs exactly this).
# Installs what the tests need on a fresh Debian machine (memcached, and
# chromium for the report-rendering test), then runs every check: formatting,
# clippy with warnings as errors, all tests (the model-checker suites
# included), and a bounded slice of the scenario suite. Tests that need
# memcached start their own servers on free loopback ports and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian package $2 unless command $1 exists (needs root).
ensure() {
  if command -v "$1" >/dev/null 2>&1; then
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "$1 is not installed and this is not root: install Debian's $2 package first" >&2
    exit 1
  fi
  echo "installing $2 from Debian's packages..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

ensure memcached memcached
# The HTML report test renders a page in headless Chromium.
ensure chromium chromium
echo "using $(memcached -V)"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p memcache-sim --features models --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The deque under loom and shuttle (release: loom runs ~10x slower in debug).
# About 5 minutes on 2 cores; ARCHITECTURE.md says how to run them longer.
cargo test --release --locked -p memcache-sim --features models --lib --test loom --test shuttle --test shuttle_replay
# A bounded slice of the scenario suite on the default algorithm (the main
# job runs every seed), and every catalogued broken variant hunted until
# caught: a variant that escapes, or any unexpected verdict, fails the build.
cargo run --release --locked -p memcache-sim --features models -- validate --seeds 20 --master-seeds 1
# Three seeds of every scenario on real memcached (servers, proxies and faults
# started by the harness): each must earn a verdict its scenario expects.
cargo run --release --locked -p memcache-sim -- run scenarios/ --backend real --seeds 3
# Determinism as a regression test: 30 seeds of every scenario must replay
# to the committed trace hashes (a deliberate change regenerates them).
bash scripts/trace-hashes.sh --check
