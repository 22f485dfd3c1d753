#!/usr/bin/env bash
# The test command: install what the tests need, then type-check, lint, build and run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The small Linux guest (kernel + busybox + qemu-ga) for the guest-agent tests, built once into a cache.
bash scripts/build-test-guest.sh >/dev/null
# Debian's Chromium for the GUI tests (driven by playwright-core; no browser download).
if ! dpkg -s chromium fonts-liberation >/dev/null 2>&1; then
  echo "installing Debian packages: chromium fonts-liberation"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation
fi
npm test
