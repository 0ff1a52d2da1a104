#!/usr/bin/env bash
# Run the whole test suite (sets up .venv with the test extras the first time).
# Tests use DATABASE_URL if set, else PostgreSQL on 127.0.0.1:5432 (database `test`), else an embedded one.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdfsig >/dev/null 2>&1 || need+=(poppler-utils)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing system packages: ${need[*]}" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "missing system packages: ${need[*]} (sudo apt-get install ${need[*]})" >&2
        exit 1
    fi
fi
if [ ! -x .venv/bin/pytest ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -e '.[test]'
fi
exec .venv/bin/python -m pytest "$@"
