#!/usr/bin/env bash
# Set up, then run the demo on embedded defaults (offline). Extra arguments go to `demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/catalog-sync demo "$@"
