#!/usr/bin/env bash
# The eval HTML report test opens the report in headless Chromium (Debian package `chromium`).
# Installs it where we can (root with apt-get, as on CI and fresh dev machines); elsewhere says how.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "warning: chromium is not installed; the HTML report test will fail (sudo apt-get install chromium)" >&2
fi
