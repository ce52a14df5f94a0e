"""The third-party actions generated workflows may use, each pinned to a release commit.

A tag can be moved by whoever controls the action's repository; a commit SHA cannot. So every
`uses:` names the full SHA, and the release tag travels beside it as a YAML comment for
reviewers and for Dependabot-style bumps. Each SHA below was resolved from the action's own
repository (a mirror of github.com/<repo>) with
`git rev-parse 'refs/tags/<tag>^{commit}'`; never edit a SHA without doing the same.

| action                                     | tag      | commit SHA                               |
| ------------------------------------------ | -------- | ---------------------------------------- |
| actions/checkout                           | v7.0.1   | 3d3c42e5aac5ba805825da76410c181273ba90b1 |
| actions/setup-python                       | v7.0.0   | 5fda3b95a4ea91299a34e894583c3862153e4b97 |
| aws-actions/configure-aws-credentials      | v6.2.3   | e6de054238d6b7531b4efff3b6587d9aade6a06c |
| hashicorp/setup-terraform                  | v4.0.1   | dfe3c3f87815947d99a8997f908cb6525fc44e9e |
| github/codeql-action (upload-sarif)        | v4.36.2  | 8aad20d150bbac5944a9f9d289da16a4b0d87c1e |
| actions/upload-artifact                    | v7.0.0   | bbbca2ddaa5d8feaa63e36b76fdaad77386f024f |
| actions/download-artifact                  | v8.0.1   | 3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c |
| actions/cache                              | v5.0.5   | 27d5ce7f107fe9357f9df03efb73ab90386fccae |

Everything else (ECR login, image build and copy, PR comments, issues) is plain `run:` with
the docker, skopeo, aws and gh CLIs that GitHub's Ubuntu runners ship: fewer actions, fewer
parties to trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    """One pinned action: `repo` may include a sub-path (github/codeql-action/upload-sarif)."""

    repo: str
    tag: str
    sha: str

    @property
    def ref(self) -> str:
        """The value of `uses:`."""
        return f"{self.repo}@{self.sha}"


CHECKOUT = Action("actions/checkout", "v7.0.1", "3d3c42e5aac5ba805825da76410c181273ba90b1")
SETUP_PYTHON = Action("actions/setup-python", "v7.0.0", "5fda3b95a4ea91299a34e894583c3862153e4b97")
CONFIGURE_AWS = Action(
    "aws-actions/configure-aws-credentials", "v6.2.3", "e6de054238d6b7531b4efff3b6587d9aade6a06c"
)
SETUP_TERRAFORM = Action(
    "hashicorp/setup-terraform", "v4.0.1", "dfe3c3f87815947d99a8997f908cb6525fc44e9e"
)
UPLOAD_SARIF = Action(
    "github/codeql-action/upload-sarif", "v4.36.2", "8aad20d150bbac5944a9f9d289da16a4b0d87c1e"
)
UPLOAD_ARTIFACT = Action(
    "actions/upload-artifact", "v7.0.0", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"
)
DOWNLOAD_ARTIFACT = Action(
    "actions/download-artifact", "v8.0.1", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c"
)

CACHE = Action("actions/cache", "v5.0.5", "27d5ce7f107fe9357f9df03efb73ab90386fccae")

ALL: tuple[Action, ...] = (
    CHECKOUT,
    SETUP_PYTHON,
    CONFIGURE_AWS,
    SETUP_TERRAFORM,
    UPLOAD_SARIF,
    UPLOAD_ARTIFACT,
    DOWNLOAD_ARTIFACT,
    CACHE,
)

_SHA = re.compile(r"^[0-9a-f]{40}$")


def tag_for(ref: str) -> str:
    """The release tag of a pinned `uses:` value; refuses anything not in the table."""
    for action in ALL:
        if action.ref == ref:
            return action.tag
    raise ValueError(f"uses: {ref!r} is not a pinned action from compiler/workflows/actions.py")
