#!/usr/bin/env bash
# The test command: install what the tests need, then type-check, lint, build and run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The small Linux guest (kernel + busybox + qemu-ga) for the guest-agent tests, built once into a cache.
bash scripts/build-test-guest.sh >/dev/null
npm test
