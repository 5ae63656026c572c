#!/usr/bin/env bash
# What `make test` runs once everything is installed: the linters, then pytest, against a
# throwaway PostgreSQL server (started here, stopped at the end) unless
# MODELPORT_TEST_POSTGRES_URL already names one. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}

"$BIN/ruff" check .
"$BIN/ruff" format --check .
if [ -z "${MODELPORT_TEST_POSTGRES_URL:-}" ]; then
  eval "$(scripts/start-postgres.sh)"
  trap 'scripts/start-postgres.sh --stop "$MODELPORT_TEST_POSTGRES_DIR"' EXIT
fi
# The store tests must run on both databases here, not be skipped.
export MODELPORT_REQUIRE_POSTGRES=1
"$BIN/pytest" "$@"
