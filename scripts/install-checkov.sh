#!/usr/bin/env bash
# Install checkov into its own virtual environment, .venv-checkov/ at the repository root.
#
# checkov pins boto3/botocore 1.35.x and ships a fork of python-hcl2 under the same import
# name; sharing an environment with the project breaks one or the other. The policy gate
# (`servespec policy`) finds this environment by itself. Idempotent: when the pinned version
# is already installed it exits at once.
set -euo pipefail

CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.venv-checkov"
PYTHON="${PYTHON:-python3}"

if [[ -x "${VENV}/bin/checkov" ]] \
  && [[ "$("${VENV}/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null)" == "${CHECKOV_VERSION}" ]]; then
  echo "checkov ${CHECKOV_VERSION} already installed in ${VENV}"
  exit 0
fi

"${PYTHON}" -m venv "${VENV}"
"${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# constraints-checkov.txt pins every transitive dependency, so a later install resolves the same.
"${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c "${ROOT}/constraints-checkov.txt" "checkov==${CHECKOV_VERSION}"
# Fail loudly now rather than at the first gate run.
"${VENV}/bin/checkov" --version
echo "checkov ${CHECKOV_VERSION} installed in ${VENV}"
