#!/usr/bin/env bash
# Set up (first time) and run tenderhall on http://127.0.0.1:8000.
# Without DATABASE_URL an embedded PostgreSQL is started in $TENDERHALL_DATA_DIR (default ./.tenderhall/).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/tenderhall ]; then
    echo "tenderhall: first run, creating .venv and installing (a minute or two)…" >&2
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -e .
fi
.venv/bin/tenderhall db upgrade
exec .venv/bin/tenderhall serve "$@"
