#!/usr/bin/env bash
# The project's one test command (README "Quick start"; CI runs exactly this).
# Installs what the tests need on a fresh Debian machine (memcached, and
# chromium for the report-rendering test), then runs every
# check: formatting, clippy with warnings as errors, and all tests. Tests that
# need memcached start their own servers on free loopback ports and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v memcached >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "memcached is not installed and this is not root: install Debian's memcached package first" >&2
    exit 1
  fi
  echo "installing memcached from Debian's packages..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends memcached >/dev/null
fi
echo "using $(memcached -V)"

# The HTML report test renders a page in headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is not installed and this is not root: install Debian's chromium package first" >&2
    exit 1
  fi
  echo "installing chromium from Debian's packages..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# A bounded slice of the scenario suite (the main job runs every seed).
cargo run --locked -p memcache-sim -- run scenarios/ --seeds 20
