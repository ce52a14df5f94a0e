"""Errors the model commands turn into a clear message and a non-zero exit."""

from __future__ import annotations


class ModelPipelineError(Exception):
    """Base class: the message is meant for the person running the command."""


class BuildError(ModelPipelineError):
    """A build step failed; `step` names it so the user knows where to look."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"step '{step}' failed: {message}")
        self.step = step


class GateError(ModelPipelineError):
    """A validation gate (parity, perplexity) refused the artifact."""


class PushError(ModelPipelineError):
    """An upload was refused or could not be verified."""


class MissingExtraError(ModelPipelineError):
    """A heavy dependency of the `model` extra is not installed."""

    def __init__(self, module: str) -> None:
        super().__init__(
            f"the model pipeline needs '{module}', which is not installed; "
            "install it with: pip install 'servespec[model]'"
        )
        self.module = module
