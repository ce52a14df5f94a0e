"""The parts of the spec the pipeline reads, as structural types.

`compiler.spec.ModelSpec` satisfies these; the pipeline never reads YAML or dicts itself,
and depending on a Protocol keeps this package importable without the spec package.
"""

from __future__ import annotations

from typing import Literal, Protocol

QuantMethod = Literal["none", "int8", "int4"]
Int8Mode = Literal["dynamic", "weight-only"]


class QuantizationLike(Protocol):
    @property
    def method(self) -> QuantMethod: ...
    @property
    def int8_mode(self) -> Int8Mode: ...
    @property
    def block_size(self) -> int: ...
    @property
    def symmetric(self) -> bool: ...
    @property
    def max_perplexity_increase(self) -> float: ...


class AdapterLike(Protocol):
    @property
    def path(self) -> str: ...


class ModelSpecLike(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def adapter(self) -> AdapterLike | None: ...
    @property
    def quantization(self) -> QuantizationLike: ...
    @property
    def context_tokens(self) -> int: ...
