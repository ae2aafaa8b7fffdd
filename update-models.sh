#!/usr/bin/env bash
# Promote a registered ring-count model version: ./update-models.sh v2   (./update-models.sh --help)
# The registry alias `production` of `ring-counter` is the source of truth; the running API verifies
# and loads the version before the alias moves, then switches to it without a restart.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLI="$ROOT/demo-api/dist/src/promote-cli.js"
if [ ! -f "$CLI" ]; then
  echo "update-models: building demo-api first (npx tsc -b demo-api)" >&2
  (cd "$ROOT" && npx tsc -b demo-api)
fi
exec node "$CLI" "$@"
