"""One checkov run over both examples' generated roots and their account roots (plus a
canary root that must fail), shared by every test that reads its report (~25 s on 2 cores)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from .support import EXAMPLES, account_roots, artifacts, checkov_path, write_tree

CANARY = 'resource "aws_s3_bucket" "canary" {\n  bucket = "canary"\n}\n'


@pytest.fixture(scope="session")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("checkov")
    for example in EXAMPLES:
        write_tree(tmp, artifacts(example))
    write_tree(tmp, account_roots())
    canary = tmp / "generated" / "canary"
    canary.mkdir(parents=True)
    (canary / "main.tf").write_text(CANARY)
    command = [str(checkov_path()), "--skip-download", "--framework", "terraform"]
    done = subprocess.run(
        [*command, "-o", "json", "-d", "."],
        cwd=tmp / "generated",
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else report
