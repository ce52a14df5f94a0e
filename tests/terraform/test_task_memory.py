"""The runtime knows the memory its task definition gives it.

ECS stops a container that exceeds its task's hard memory limit (exit 137: every stream on
the task ends at once), and the runtime's KV cache grows with its rows: it batches only the
rows whose KV fits (runtime/memory.py), which it can do only if it is told the task's
memory. The secondary's Fargate fleet may get a different size than the primary's EC2 one
(plan.fargate_memory), so each task definition's variable must be its own ``memory``.

AWS: "If your container attempts to exceed the memory specified here, the container is
killed" (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html,
also https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/ecs/aws.sdk.kotlin.services.ecs.model/-container-override/memory.html).
"""

from __future__ import annotations

import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.plan import plan
from compiler.terraform.stack import FILES
from runtime.settings import Settings

from .support import EXAMPLES, environments
from .test_capture_regions import _environment


def _cases() -> list[ResolvedSpec]:
    found = [s for e in EXAMPLES for s in environments(e)]
    clinical = next(s for s in environments("clinical-notes") if s.production)
    # EC2 at 32 GiB: Fargate's 4-vCPU sizes end at 30 GiB, so the DR region's tasks get less.
    big = clinical.compute.model_copy(update={"memory_mib": 32768})
    return [*found, clinical.model_copy(update={"compute": big})]


@pytest.mark.parametrize(
    "spec", _cases(), ids=lambda s: f"{s.metadata.name}-{s.environment}-{s.compute.memory_mib}"
)
def test_each_task_tells_the_runtime_its_own_memory(spec: ResolvedSpec) -> None:
    tasks = [
        block
        for _, view in FILES
        for block in view(plan(spec))
        if block.labels[:1] == ("aws_ecs_task_definition",)
    ]
    assert tasks
    sizes = set()
    for task in tasks:
        env = _environment(task)
        settings = Settings.from_env({**env, "SERVESPEC_API_KEYS": "k"})
        assert settings.memory_mib == int(str(task.attribute("memory")))
        sizes.add(settings.memory_mib)
    if spec.compute.memory_mib == 32768:
        assert sizes == {32768, 30720}
