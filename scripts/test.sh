#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root: installs what the
# suite needs when missing, builds, then runs every test file with tap.
# Extra arguments go to tap (for example a single test file).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
npm run typecheck
npm run lint
NODE24_BIN=$(bash scripts/ensure-node24.sh)
export NODE24_BIN
# The host tests' entrypoint: the same bundle with op's fixed path at the stand-in, Node 24, and its launcher.
bash scripts/build-test-entrypoint.sh >/dev/null
exec npx tap "$@"
