#!/usr/bin/env bash
# Set up a fresh Debian machine for catalog-sync: system packages, .venv, the project.
# Idempotent: a second run with nothing changed takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${need_apt[*]} with apt-get"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.catalog-sync-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and pinned: left to the resolver, open_clip's torchvision may pull a
  # multi-GB torch that does not match it (torch 2.13 alone breaks `import open_clip`).
  .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
  .venv/bin/python -m pip install -q -e ".[test]"
  # Unpack the Milvus standalone binary of the milvus wheel (test extra) once, ahead of
  # the first test that starts one.
  .venv/bin/python -c "from pipeline.local.milvus_standalone import standalone_binary as b; b()"
  rm -f .venv/.catalog-sync-*
  touch "$stamp"
fi
echo "setup: ready (.venv/bin/catalog-sync --help)"
