#!/bin/sh
# Installs the Debian packages the build, tests, demo and benchmarks need.
# Idempotent: does nothing when every package is already installed.
set -eu

PKGS="build-essential cmake pkg-config clang-format git
librdkafka-dev libavro-dev libcurl4-openssl-dev libjson-c-dev uuid-dev
libarchive-dev libmicrohttpd-dev zlib1g-dev libcmocka-dev
kcat jq curl time python3 python3-kafka python3-avro python3-jsonschema stress-ng"

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
