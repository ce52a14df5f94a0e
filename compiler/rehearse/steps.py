"""Named, timed steps: the rehearsal prints each as it ends and stops at the first failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import click

T = TypeVar("T")


class StepFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"step '{step}' failed: {message}")
        self.step = step


@dataclass
class Steps:
    timings: list[tuple[str, float]] = field(default_factory=list)

    def run(self, name: str, action: Callable[[], T]) -> T:
        click.echo(f"[rehearse] {name} ...", err=True)
        start = time.monotonic()
        try:
            result = action()
        except StepFailed:
            raise
        except Exception as exc:
            raise StepFailed(name, f"{type(exc).__name__}: {exc}") from exc
        elapsed = time.monotonic() - start
        self.timings.append((name, elapsed))
        click.echo(f"[rehearse] {name} done in {elapsed:.1f} s", err=True)
        return result

    def table(self) -> str:
        width = max(len(name) for name, _ in self.timings)
        lines = [f"  {name:<{width}}  {seconds:7.1f} s" for name, seconds in self.timings]
        total = sum(seconds for _, seconds in self.timings)
        return "\n".join([*lines, f"  {'total':<{width}}  {total:7.1f} s"])
