#!/usr/bin/env bash
# Runs every compiled test file with node's own test runner (TAP closing lines for CI).
# Usage: bash scripts/run-tests.sh [extra node --test flags]
set -euo pipefail
shopt -s globstar nullglob
cd "$(dirname "$0")/.."
files=(packages/*/dist/**/*.test.js plugins/*/dist/**/*.test.js examples/*/dist/**/*.test.js test/dist/**/*.test.js)
if (( ${#files[@]} == 0 )); then echo "no test files found: run 'npx tsc -b' first" >&2; exit 1; fi
exec node --test --test-concurrency=2 "$@" "${files[@]}"
