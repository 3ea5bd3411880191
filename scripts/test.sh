#!/usr/bin/env bash
# The gate: lint, format, types, then every test against real local services.
# CI runs exactly this (through .ci/run). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RAY_USAGE_STATS_ENABLED=0 PYTHONDONTWRITEBYTECODE=1
echo "gate: ruff"; .venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "gate: mypy"; .venv/bin/mypy
echo "gate: pytest"; .venv/bin/python -m pytest "$@"
