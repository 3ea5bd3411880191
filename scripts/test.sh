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
# Benchmarks are scripts no test runs: check at least their calls into pipeline/ (loosely
# typed; --no-namespace-packages so benchmarks/_common.py has one module name).
(cd benchmarks && MYPYPATH=.:.. ../.venv/bin/mypy --config-file "" --no-namespace-packages \
  --python-version 3.11 --follow-imports=silent --ignore-missing-imports \
  --allow-untyped-defs --allow-incomplete-defs --disable-error-code=import-untyped ./*.py)
# TEST_SHUFFLE_SEED=<n> runs the modules in a shuffled order (the seed is printed in the
# header, so a failing order can be rerun): modules must not depend on each other.
shuffle=()
if [[ -n "${TEST_SHUFFLE_SEED:-}" ]]; then shuffle=(--shuffle-modules "$TEST_SHUFFLE_SEED"); fi
echo "gate: pytest"; .venv/bin/python -m pytest "${shuffle[@]}" "$@"
