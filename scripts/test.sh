#!/usr/bin/env bash
# The test command: install what the tests need, then type-check, lint, build and run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
