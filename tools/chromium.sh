#!/usr/bin/env bash
# Headless Chromium for twoway's report test: Debian's `chromium`, installed with apt-get when absent (as
# root; CI runs as root). Runs it headless with the given arguments (e.g. --dump-dom URL, --screenshot=FILE
# URL), without a sandbox (root, containers) or a GPU.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "chromium is missing: install it (apt-get install chromium) as root" >&2; exit 1; }
  echo "installing chromium (apt-get)" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
HOME="$home" chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
  --user-data-dir="$home/profile" "$@"
