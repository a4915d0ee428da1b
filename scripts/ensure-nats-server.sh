#!/usr/bin/env bash
# Makes sure `nats-server` is on PATH, installing Debian's package with apt-get when it is not.
# scripts/test-services.sh calls it, before the relay's tests start servers of their own.
set -euo pipefail

if command -v nats-server >/dev/null 2>&1; then
    exit 0
fi
# One install at a time, should several test binaries ask at once.
exec 9>"${TMPDIR:-/tmp}/eventfold-ensure-nats-server.lock"
flock 9
if command -v nats-server >/dev/null 2>&1; then
    exit 0
fi
echo "==> apt-get install nats-server" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq nats-server >&2
command -v nats-server >/dev/null
