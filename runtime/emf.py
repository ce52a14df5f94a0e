"""The names the runtime's EMF lines carry: the contract the compiler's scaling reads.

CloudWatch turns each EMF line (runtime/metrics.py) into one metric per dimension set; a
target-tracking policy names exactly one of them. Both sides take the metric's name and
dimensions from here, so a renamed dimension cannot leave a policy tracking a metric that
no longer exists. Dependency-free: the compiler imports it without the server's stack.
"""

from __future__ import annotations

MODEL = "Model"
VARIANT = "Variant"
# The variant a task reports (header, capture, metrics) when the spec has no A/B split.
DEFAULT_VARIANT = "default"
# Requests admitted but waiting for a batch slot: what ECS target tracking scales on.
QUEUE_DEPTH = "QueueDepth"


def scaling_dimensions(model: str, variant: str) -> dict[str, str]:
    """The dimensions of the queue-depth metric one variant's service scales on.

    Per variant: with an A/B split each variant is its own ECS service, and a model-wide
    queue would scale the idle variant's tasks for the busy one's load.
    """
    return {MODEL: model, VARIANT: variant}
