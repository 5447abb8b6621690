#!/usr/bin/env bash
# Checks that an image has what the Dockerfile and the entrypoint need from
# NODE_IMAGE: Node >= 22.15 (process.execve), its headers under
# /usr/local/include/node, npm, util-linux's prlimit, tini, useradd.
# usage: check-base-image.sh IMAGE
set -euo pipefail
docker run --rm --network none --entrypoint /bin/sh "$1" -c '
  node -e "if (typeof process.execve !== \"function\") { console.error(\"node \" + process.version + \" has no process.execve\"); process.exit(1) }" &&
  npm --version >/dev/null && command -v prlimit >/dev/null && command -v tini >/dev/null && command -v useradd >/dev/null &&
  test -f /usr/local/include/node/node_api.h
' || { echo "check-base-image: $1 lacks node 24, its headers, npm, prlimit, tini or useradd" >&2; exit 1; }
