#!/usr/bin/env bash
# Debian packages the tests use: Chromium for the browser tests, PostgreSQL for the store
# tests; wrk drives the load benchmarks (benchmarks/); nginx and systemd check the deployment
# files (nginx -t, systemd-analyze verify).
set -euo pipefail
packages=(chromium postgresql fonts-dejavu-core wrk nginx systemd)
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "Please install these Debian packages as root: ${packages[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${packages[@]}" >/dev/null
