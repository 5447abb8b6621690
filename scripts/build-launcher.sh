#!/usr/bin/env bash
# Compiles the image's ENTRYPOINT, entrypoint/launcher/launcher.c, into a
# static musl binary (no dynamic loader, so no LD_PRELOAD before it looks).
# Usage: build-launcher.sh OUT [NODE] [ENTRYPOINT]
#   NODE        the Node it execs (default in launcher.c: /usr/local/bin/node)
#   ENTRYPOINT  the bundle it runs (default in launcher.c:
#               /usr/local/lib/copilot-bridge-stack/copilot-bridge-entrypoint.mjs)
set -euo pipefail
fail() { echo "build-launcher: $*" >&2; exit 64; }
[ "$#" -ge 1 ] && [ "$#" -le 3 ] && [ -n "$1" ] || fail "usage: build-launcher.sh OUT [NODE] [ENTRYPOINT]"
command -v musl-gcc >/dev/null || { echo "build-launcher: musl-gcc not found; install musl-tools (apt-get install -y musl-tools)" >&2; exit 69; }
command -v "${REALGCC:-gcc}" >/dev/null || { echo "build-launcher: gcc not found (musl-gcc wraps it); install gcc" >&2; exit 69; }
source_file="$(cd "$(dirname "$0")/.." && pwd)/entrypoint/launcher/launcher.c"
out=$1

# A path as a C string literal: absolute, one line; \ " and ? (trigraphs) escaped.
c_string() {
  local path=$2
  case "$path" in /*) ;; *) fail "$1 must be an absolute path: $path" ;; esac
  case "$path" in *$'\n'* | *$'\r'*) fail "$1 must not contain a line break" ;; esac
  path=${path//\\/\\\\}
  path=${path//\"/\\\"}
  path=${path//\?/\\?}
  printf '"%s"' "$path"
}

defines=()
[ -n "${2:-}" ] && defines+=("-DCBS_NODE=$(c_string NODE "$2")")
[ -n "${3:-}" ] && defines+=("-DCBS_ENTRYPOINT=$(c_string ENTRYPOINT "$3")")
musl-gcc -static -Os -Wall -Wextra -Werror -std=c11 -D_POSIX_C_SOURCE=200809L "${defines[@]}" -o "$out" "$source_file"
strip "$out"
