#!/usr/bin/env bash
# The README's test command (`npm test`): works on a fresh clone, installing what is missing first.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund || exit 1
bash scripts/setup-system.sh --with-browser || echo "test: system setup incomplete; tests that need Jupyter or Chromium will fail" >&2
npx eslint . || exit 1
npx tsc -b || exit 1
exec npx mocha "$@"
