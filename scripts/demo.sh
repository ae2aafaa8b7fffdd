#!/usr/bin/env bash
# The README's demo command (`npm run demo`): works on a fresh clone with Node 20. Installs npm
# dependencies and Debian packages when missing, builds, then hands over to the orchestrator.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || { echo "demo: installing npm dependencies (npm ci)"; npm ci --no-audit --no-fund || exit 1; }
bash scripts/setup-system.sh || echo "demo: Jupyter could not be set up; continuing without the notebook server" >&2
echo "demo: building (tsc -b)"
npx tsc -b || exit 1
exec node platform/dist/src/demo.js "$@"
