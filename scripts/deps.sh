#!/bin/sh
# Installs the Debian packages the build, tests, demo and benchmarks need.
# Idempotent: does nothing when every package is already installed.
set -eu

PKGS="build-essential cmake pkg-config clang-format git clang libclang-rt-14-dev
librdkafka-dev libavro-dev libcurl4-openssl-dev libjson-c-dev uuid-dev
libarchive-dev libmicrohttpd-dev zlib1g-dev libcmocka-dev
kcat jq curl time python3 python3-kafka python3-avro python3-jsonschema python3-yaml
stress-ng prometheus docker-compose"
# Installed when the package sources have it (Debian 12's own do not): the
# kustomize render test needs it and says so when it is missing.
OPTIONAL="kubectl"

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $PKGS; do
  installed "$p" || missing="$missing $p"
done
optional() { # the OPTIONAL packages not installed that the sources have
  for p in $OPTIONAL; do
    if ! installed "$p" && apt-cache show "$p" >/dev/null 2>&1; then
      printf ' %s' "$p"
    fi
  done
}
required=$missing
missing="$missing$(optional)"

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# after the update: the package lists of a new machine may have been empty
missing="$required$(optional)"
echo "deps: installing:$missing"
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
