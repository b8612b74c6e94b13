#!/usr/bin/env bash
# The system packages the test suite drives as real parts, from Debian's own archive: Chromium (the
# dashboard's browser tests, through playwright-core with executablePath /usr/bin/chromium — no browser
# download), Firefox ESR (test/web/firefox.test.ts, through puppeteer-core over WebDriver BiDi with
# executablePath /usr/bin/firefox-esr — no browser download either), Prometheus (a real server scrapes
# aivmm's /metrics), wrk (the load generator's cross-check).
# Run after scripts/install-lavapipe.sh (which runs apt-get update). CI (.ci/run) runs both; the
# Dockerfiles have no test stage (they build and run the server). Idempotent: installed packages are skipped.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-test-deps: run as root (apt-get)" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
need=()
for p in chromium firefox-esr prometheus wrk curl; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian's prometheus package may start a daemon where an init system runs; tests start their own.
if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
dpkg-query -W -f='${Package} ${Version}\n' chromium firefox-esr prometheus wrk curl
