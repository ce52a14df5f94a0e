#!/usr/bin/env bash
# The main job on the embedded default (spec/assistant.yaml + SmolLM2-135M-Instruct):
# validate -> compile -> policy gate -> build the model artifact -> serve it -> one chat call.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
S=.venv/bin/servespec

echo "== 1. validate the specs"
$S validate spec/

echo "== 2. compile (generated/ must match what is committed)"
$S compile
$S compile --check

echo "== 3. policy gate (checkov + policies/)"
$S policy

echo "== 4. build the model artifact for prod (export, quantize, parity + perplexity gates)"
$S model build spec/assistant.yaml --env prod --out .cache/servespec/artifacts/assistant-prod

echo "== 5. serve it and ask one question through the OpenAI API"
.venv/bin/python scripts/demo_chat.py .cache/servespec/artifacts/assistant-prod
