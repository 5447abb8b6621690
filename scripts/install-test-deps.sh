#!/usr/bin/env bash
# Installs, when missing, the Debian packages the test suite runs against for real:
# a Docker engine, a software TPM with tpm2-tools, a Secret Service (gnome-keyring
# on a D-Bus session), tini, debootstrap, HAProxy and hyperfine for the benchmarks,
# and python3 (the pty that stands in for a TPM character device needs openpty).
set -euo pipefail
packages=(
  docker.io docker-compose
  swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0
  gnome-keyring dbus dbus-x11 libsecret-tools
  tini util-linux coreutils sed procps iproute2
  debootstrap haproxy hyperfine python3 gcc musl-tools
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-test-deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: not root; install these Debian packages first: ${missing[*]}" >&2
    exit 69
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
