"""Rewrite the Terraform goldens from the current compiler: `python -m tests.terraform.regen`.

Review the resulting diff under tests/golden/terraform/ like any other code change.
"""

from __future__ import annotations

import shutil

from .support import EXAMPLES, GOLDEN, artifacts, golden_path


def main() -> None:
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for example in EXAMPLES:
        for artifact in artifacts(example):
            path = golden_path(artifact)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(artifact.content, encoding="utf-8")
    print(f"rewrote {GOLDEN}")


if __name__ == "__main__":
    main()
