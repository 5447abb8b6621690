#!/usr/bin/env bash
# The entrypoint as the host tests run it: the same bundle as the image's,
# built from dist/ with one build-time difference, op's fixed path pointing at
# the stand-in (test/fixtures/op/op); the Node 24 the image runs (from
# scripts/ensure-node24.sh: --disable-sigusr1 needs Node >= 22.14); and the
# launcher compiled for that Node and that bundle. It goes under /usr/local/lib, in a directory
# named after this checkout, because the root phase runs only files that only
# root can change (a checkout may live anywhere). Run after `npm run build`
# (npm test does both). Prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
[ -f dist/entrypoint/main.js ] || { echo "build-test-entrypoint: dist/ is missing; run npm run build first" >&2; exit 66; }
base=/usr/local/lib/copilot-bridge-stack-test
dir=$base/$(printf '%s' "$root" | sha256sum | cut -c1-12)
mkdir -p "$base"
chmod 0755 "$base"
tmp=$(mktemp -d "$base/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
install -m 0755 test/fixtures/op/op "$tmp/op"
node24=$(bash scripts/ensure-node24.sh)
ln "$node24" "$tmp/node" 2>/dev/null || cp "$node24" "$tmp/node"
chown 0:0 "$tmp/node"
chmod 0755 "$tmp/node"
tools=$(printf '{"op":"%s/op","prlimit":"/usr/bin/prlimit","tini":"/usr/bin/tini"}' "$dir")
node scripts/build.mjs --test-entrypoint "$tmp/copilot-bridge-entrypoint.mjs" "$tools"
chmod 0755 "$tmp/copilot-bridge-entrypoint.mjs"
bash scripts/build-launcher.sh "$tmp/launcher" "$dir/node" "$dir/copilot-bridge-entrypoint.mjs"
# What it was built from, for test/support/test-build.ts to tell a stale build.
cat dist/copilot-bridge-entrypoint.mjs test/fixtures/op/op entrypoint/launcher/launcher.c | sha256sum | cut -d' ' -f1 > "$tmp/inputs.sha256"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
