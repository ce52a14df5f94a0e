"""Find the isolated checkov executable: $SERVESPEC_CHECKOV, then .venv-checkov, then PATH."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "SERVESPEC_CHECKOV"
INSTALL_HINT = (
    "checkov was not found. Install it into its own environment with "
    "`scripts/install-checkov.sh` (creates .venv-checkov/ with checkov==3.3.30), "
    f"or point ${ENV_VAR} at a checkov executable."
)


class CheckovMissing(Exception):
    """No runnable checkov executable; the gate cannot give a verdict."""


def repo_root() -> Path:
    """The checkout that holds policies/: this package's own (editable install), else cwd's."""
    # compiler/policy/locate.py -> the repository root two levels above compiler/.
    here = Path(__file__).resolve().parents[2]
    cwd = Path.cwd().resolve()
    for candidate in (here, cwd, *cwd.parents):
        if (candidate / "policies" / "__init__.py").is_file():
            return candidate
    return cwd


def find_checkov(root: Path, environ: Mapping[str, str] = os.environ) -> Path:
    explicit = environ.get(ENV_VAR)
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise CheckovMissing(f"${ENV_VAR}={explicit} is not an executable file. {INSTALL_HINT}")
        return path
    local = root / ".venv-checkov" / "bin" / "checkov"
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which("checkov", path=environ.get("PATH"))
    if found:
        return Path(found)
    raise CheckovMissing(INSTALL_HINT)
