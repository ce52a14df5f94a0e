#!/usr/bin/env bash
# Set up (if needed), lint, rehearse a deploy, then run the whole test suite, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-container-tools.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The staging deploy, rehearsed on this machine: the real image under the generated task
# definition against moto_server (README "Rehearse a deploy"). SERVESPEC_REHEARSE=0 skips it
# on a machine without podman, and says so.
if [ "${SERVESPEC_REHEARSE:-1}" = 0 ]; then
  echo "== SKIPPED: servespec rehearse (SERVESPEC_REHEARSE=0)"
else
  .venv/bin/servespec rehearse spec/assistant.yaml --env staging
fi
# Last, so that the run ends on pytest's own summary line.
.venv/bin/python -m pytest "$@"
