#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, then lint and tests.
# Ends with the runner's line `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Integration tests start their own nats-server processes on free loopback ports.
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "installing nats-server (Debian package)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nats-server >/dev/null
fi

# `npm install`, not `npm ci`: npm 11 leaves other platforms' optional prebuilds (msgpackr-extract)
# out of the lock file and `npm ci` then refuses it as out of sync.
npm install --no-audit --no-fund --loglevel=error
npm run lint
timeout 1500 npm test
