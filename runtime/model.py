"""The exported decoder as a function of (tokens, mask, KV cache), and the batch's cache.

Two cache layouts, chosen by the manifest's ``graph.padding_side``:

- ``left`` (optimum's export: attention over the concatenated cache): ``ConcatBatch``.
  Every row ends at the last of ``L`` shared columns, so a decode step appends one column
  for all rows and the ``present`` outputs become the next ``past`` inputs.
- ``right`` (fused GroupQueryAttention graphs): ``SharedBatch``. Every row starts at
  column 0 of a preallocated buffer, and ``past`` and ``present`` are bound to the same
  memory, so the graph writes each row's new key/value in place at that row's own length
  (read from the mask) and a decode step copies no cache at all.

Either way padding columns are masked out and positions follow the row's own tokens, so a
row sees exactly what it would see alone.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Protocol

import numpy as np
import onnxruntime as ort

from runtime.artifact import Artifact
from runtime.prefix import MIN_REUSE, Hit, PrefixCache, common_prefix

_PAST = re.compile(r"past_key_values\.(\d+)\.(key|value)$")
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


@dataclasses.dataclass
class BatchCache:
    """KV cache of a batch: one array per graph input, shape [B, kv, L, hd], and the mask."""

    past: list[np.ndarray]
    mask: np.ndarray  # int64 [B, L]; 1 where a column holds one of the row's tokens
    right_padded: bool = False

    @property
    def rows(self) -> int:
        return int(self.mask.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        lengths: np.ndarray = self.mask.sum(axis=1)
        return lengths


class OnnxCausalLM:
    def __init__(self, artifact: Artifact, *, threads: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(artifact.model_path), options, providers=["CPUExecutionProvider"]
        )
        inputs = {i.name: i for i in self.session.get_inputs()}
        past = sorted(
            (int(m.group(1)), m.group(2) == "value", name)
            for name in inputs
            if (m := _PAST.match(name))
        )
        self.past_names = [name for _, _, name in past]
        self.present_names = [n.replace("past_key_values.", "present.") for n in self.past_names]
        self.output_names = ["logits", *self.present_names]
        logits = next(o for o in self.session.get_outputs() if o.name == "logits")
        # Fused graphs return each row's last position only (a static 1 on axis 1).
        self.last_only = logits.shape[1] == 1
        self.vocab = logits.shape[2] if isinstance(logits.shape[2], int) else 0
        # The session, not the manifest, decides which inputs are fed: a graph without
        # position_ids (fused rotary) derives them from the mask itself.
        self.has_position_ids = "position_ids" in inputs
        self.right_padded = artifact.graph.padding_side == "right"
        self.dtype = _DTYPES[inputs[self.past_names[0]].type]
        graph = artifact.graph
        self.kv_heads, self.head_dim = graph.kv_heads, graph.head_dim
        self.pad_token_id = artifact.pad_token_id

    def new_batch(self, prefixes: PrefixCache | None = None) -> Batch:
        """An empty running batch in the layout this graph supports.

        Only the shared layout reuses ``prefixes``: its graphs can extend a row's cache with
        the rest of a prompt.
        """
        return SharedBatch(self, prefixes) if self.right_padded else ConcatBatch(self)

    def empty_cache(self, rows: int) -> BatchCache:
        shape = (rows, self.kv_heads, 0, self.head_dim)
        return BatchCache(
            past=[np.zeros(shape, self.dtype) for _ in self.past_names],
            mask=np.zeros((rows, 0), np.int64),
            right_padded=self.right_padded,
        )

    def prefill(self, prompts: list[list[int]]) -> tuple[np.ndarray, BatchCache]:
        """Run the prompts (padded together); returns last-token logits and their cache."""
        width = max(len(p) for p in prompts)
        ids = np.full((len(prompts), width), self.pad_token_id, np.int64)
        mask = np.zeros((len(prompts), width), np.int64)
        for row, prompt in enumerate(prompts):
            columns = (
                slice(0, len(prompt)) if self.right_padded else slice(width - len(prompt), None)
            )
            ids[row, columns] = prompt
            mask[row, columns] = 1
        logits, cache = self._forward(ids, mask, self.empty_cache(len(prompts)).past)
        return self.last_logits(logits, [len(p) for p in prompts]), cache

    def last_logits(self, logits: np.ndarray, lengths: list[int]) -> np.ndarray:
        """[B, S or 1, V] -> [B, V] at each row's last prompt token."""
        if self.last_only or not self.right_padded:
            return np.asarray(logits[:, -1])
        return np.asarray(logits[np.arange(len(lengths)), np.array(lengths) - 1])

    def decode(self, tokens: np.ndarray, cache: BatchCache) -> tuple[np.ndarray, BatchCache]:
        """One step: ``tokens`` int64 [B] is appended to every row."""
        if self.right_padded:
            # Each row's token lands in the column after its own last one.
            columns = np.arange(cache.mask.shape[1] + 1)
            mask = (columns[None, :] <= cache.lengths[:, None]).astype(np.int64)
        else:
            mask = np.concatenate([cache.mask, np.ones((cache.rows, 1), np.int64)], axis=1)
        logits, cache = self._forward(tokens.reshape(-1, 1), mask, cache.past)
        return logits[:, -1], cache

    def _forward(
        self, ids: np.ndarray, mask: np.ndarray, past: list[np.ndarray]
    ) -> tuple[np.ndarray, BatchCache]:
        feed: dict[str, np.ndarray] = {"input_ids": ids, "attention_mask": mask}
        if self.has_position_ids:
            positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
            if self.right_padded:  # the new tokens sit after each row's last real token
                start = mask.sum(axis=1, keepdims=True) - ids.shape[1]
                positions = start + np.arange(ids.shape[1])[None, :]
            else:
                positions = positions[:, -ids.shape[1] :]
            feed["position_ids"] = np.ascontiguousarray(positions)
        feed.update(zip(self.past_names, past, strict=True))
        logits, *present = self.session.run(self.output_names, feed)
        return logits, BatchCache(past=present, mask=mask, right_padded=self.right_padded)


def merge(a: BatchCache, b: BatchCache) -> BatchCache:
    """Stack two caches' rows, padding the narrower one to the common width."""
    width = max(a.mask.shape[1], b.mask.shape[1])
    right = a.right_padded
    return BatchCache(
        past=[
            np.concatenate([_pad(x, width, right), _pad(y, width, right)], axis=0)
            for x, y in zip(a.past, b.past, strict=True)
        ],
        mask=np.concatenate([_pad(a.mask, width, right), _pad(b.mask, width, right)], axis=0),
        right_padded=right,
    )


def select(cache: BatchCache, keep: list[int]) -> BatchCache:
    """Keep only ``keep`` rows and drop the columns none of them uses any more."""
    mask = cache.mask[keep]
    used = int(mask.sum(axis=1).max()) if keep else 0
    columns = slice(0, used) if cache.right_padded else slice(mask.shape[1] - used, None)
    return BatchCache(
        past=[np.ascontiguousarray(p[keep, :, columns, :]) for p in cache.past],
        mask=np.ascontiguousarray(mask[:, columns]),
        right_padded=cache.right_padded,
    )


def _pad(x: np.ndarray, width: int, right: bool) -> np.ndarray:
    # Masks are [B, L]; caches are [B, kv, L, hd]: the sequence axis differs.
    axis = 1 if x.ndim == 2 else 2
    missing = width - x.shape[axis]
    if missing == 0:
        return x
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, missing) if right else (missing, 0)
    return np.pad(x, pad)


class Batch(Protocol):
    """The running batch's KV cache as the engine drives it; rows keep their order."""

    @property
    def rows(self) -> int: ...

    def admit(self, prompts: list[list[int]]) -> np.ndarray:
        """Prefill ``prompts`` as new rows after the existing ones; last-token logits [j, V]."""
        ...

    def step(self, tokens: np.ndarray) -> np.ndarray:
        """Append ``tokens`` int64 [B] to every row; next-token logits [B, V]."""
        ...

    def keep(self, rows: list[int]) -> None:
        """Keep only ``rows`` (ascending indices), in that order."""
        ...


class ConcatBatch:
    """optimum's graphs: each step returns a new, one column longer cache (see merge/select)."""

    def __init__(self, model: OnnxCausalLM) -> None:
        self.model = model
        self.cache: BatchCache | None = None

    @property
    def rows(self) -> int:
        return self.cache.rows if self.cache is not None else 0

    def admit(self, prompts: list[list[int]]) -> np.ndarray:
        logits, cache = self.model.prefill(prompts)
        self.cache = cache if self.cache is None else merge(self.cache, cache)
        return logits

    def step(self, tokens: np.ndarray) -> np.ndarray:
        assert self.cache is not None
        logits, self.cache = self.model.decode(tokens, self.cache)
        return logits

    def keep(self, rows: list[int]) -> None:
        if rows == list(range(self.rows)):
            return
        self.cache = select(self.cache, rows) if rows and self.cache is not None else None


class SharedBatch:
    """GroupQueryAttention graphs: one buffer per cache tensor, [slots, kv, capacity, hd].

    Live rows occupy slots 0..rows-1, so ``buffer[first:first + n]`` is one contiguous block
    that ONNX Runtime reads as ``past`` and writes as ``present`` (same pointer: GQA then
    skips its copy of the whole cache, which at 16 rows was a quarter of every step). Copies
    happen only when the buffers grow (geometrically, so rarely) and when a row leaves (each
    later row moves down one slot, its own length only).

    With a prefix cache, a prompt whose start is cached gets that KV copied into its slot and
    only the rest computed (GroupQueryAttention extends a cache one row at a time); prompts
    without a hit are prefilled together, right-padded.
    """

    GROW = 256  # capacity grows in multiples of this many positions

    def __init__(self, model: OnnxCausalLM, prefixes: PrefixCache | None = None) -> None:
        self.model = model
        self.prefixes = prefixes
        self.lengths = np.zeros(0, np.int64)  # tokens each live row holds
        self.buffers: list[np.ndarray] = []
        self._binding: tuple[tuple[int, ...], ort.IOBinding, np.ndarray] | None = None

    @property
    def rows(self) -> int:
        return len(self.lengths)

    @property
    def capacity(self) -> int:
        return self.buffers[0].shape[2] if self.buffers else 0

    def admit(self, prompts: list[list[int]]) -> np.ndarray:
        first = self.rows
        self._reserve(first + len(prompts), max(len(p) for p in prompts))
        logits: list[np.ndarray] = []
        while len(logits) < len(prompts):
            start = len(logits)
            hit = self._lookup(prompts[start])
            if hit is not None:
                logits.append(self._extend(first + start, prompts[start], hit))
            else:
                group = self._cold_group(prompts, start)
                logits.extend(self._prefill(first + start, group))
            for row in range(start, len(logits)):
                self._remember(first + row, prompts[row])
        lengths = np.array([len(p) for p in prompts], np.int64)
        self.lengths = np.concatenate([self.lengths, lengths])
        return np.stack(logits)

    def _lookup(self, prompt: list[int]) -> Hit | None:
        return self.prefixes.lookup(prompt) if self.prefixes is not None else None

    def _cold_group(self, prompts: list[list[int]], start: int) -> list[list[int]]:
        """Prompts from ``start`` on that have no cached prefix and share none with each
        other: those are prefilled together; a later one that shares waits for the cache."""
        group = [prompts[start]]
        tokens = [np.asarray(prompts[start], np.int64)]
        for prompt in prompts[start + 1 :]:
            mine = np.asarray(prompt, np.int64)
            shares = self.prefixes is not None and (
                any(common_prefix(mine, other) >= MIN_REUSE for other in tokens)
                or self.prefixes.lookup(prompt) is not None
            )
            if shares:
                break
            group.append(prompt)
            tokens.append(mine)
        return group

    def _prefill(self, first: int, prompts: list[list[int]]) -> list[np.ndarray]:
        width = max(len(p) for p in prompts)
        ids = np.full((len(prompts), width), self.model.pad_token_id, np.int64)
        mask = np.zeros((len(prompts), width), np.int64)
        for row, prompt in enumerate(prompts):
            ids[row, : len(prompt)] = prompt
            mask[row, : len(prompt)] = 1
        logits = self._run(ids, mask, first)
        last = self.model.last_logits(logits, [len(p) for p in prompts])
        return [row.copy() for row in last]

    def _extend(self, slot: int, prompt: list[int], hit: Hit) -> np.ndarray:
        """Copy the cached prefix into ``slot`` and compute the rest of the prompt."""
        for buffer, cached in zip(self.buffers, hit.kv, strict=True):
            buffer[slot, :, : hit.length] = cached[:, : hit.length]
        ids = np.array([prompt[hit.length :]], np.int64)
        logits = self._run(ids, np.ones((1, len(prompt)), np.int64), slot)
        assert self.prefixes is not None
        self.prefixes.hit_tokens += hit.length
        return np.array(logits[0, -1])  # a copy: the buffer is reused by the next run

    def _remember(self, slot: int, prompt: list[int]) -> None:
        if self.prefixes is not None:
            used = len(prompt)
            self.prefixes.store(prompt, [buffer[slot, :, :used] for buffer in self.buffers])

    def step(self, tokens: np.ndarray) -> np.ndarray:
        width = int(self.lengths.max()) + 1
        self._reserve(self.rows, width)
        # Each row's token lands in the column after its own last one.
        mask = (np.arange(width)[None, :] <= self.lengths[:, None]).astype(np.int64)
        logits = self._run(tokens.reshape(-1, 1), mask, 0)
        self.lengths += 1
        return logits[:, -1]

    def keep(self, rows: list[int]) -> None:
        if rows == list(range(self.rows)):
            return
        assert rows == sorted(rows), "rows must stay in order"
        for target, source in enumerate(rows):
            if target != source:
                used = int(self.lengths[source])
                for buffer in self.buffers:
                    buffer[target, :, :used] = buffer[source, :, :used]
        self.lengths = self.lengths[rows]

    def _reserve(self, rows: int, length: int) -> None:
        slots, capacity = (self.buffers[0].shape[0], self.capacity) if self.buffers else (0, 0)
        if rows <= slots and length <= capacity:
            return
        # Grow geometrically: reallocating means copying every live row. The buffers then
        # stay for the next requests, like any server's KV pool; pages no row has touched
        # are never resident.
        if length > capacity:
            capacity = -(-max(length, capacity * 3 // 2) // self.GROW) * self.GROW
        if rows > slots:
            slots = max(rows, 2 * slots)
        model, used = self.model, self.rows
        shape = (slots, model.kv_heads, capacity, model.head_dim)
        grown = [np.zeros(shape, model.dtype) for _ in model.past_names]
        for new, old in zip(grown, self.buffers, strict=False):
            new[:used, :, : old.shape[2]] = old[:used]
        self.buffers, self._binding = grown, None

    def _run(self, ids: np.ndarray, mask: np.ndarray, first: int) -> np.ndarray:
        rows, model = ids.shape[0], self.model
        out_len = 1 if model.last_only else ids.shape[1]
        key = (first, rows, self.capacity, out_len)
        if self._binding is None or self._binding[0] != key:
            self._binding = (key, *self._bind(first, rows, out_len))
        _, binding, logits = self._binding
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("attention_mask", mask)
        model.session.run_with_iobinding(binding)
        return logits

    def _bind(self, first: int, rows: int, out_len: int) -> tuple[ort.IOBinding, np.ndarray]:
        model = self.model
        binding = model.session.io_binding()
        shape = [rows, model.kv_heads, self.capacity, model.head_dim]
        for past, present, buffer in zip(
            model.past_names, model.present_names, self.buffers, strict=True
        ):
            pointer = buffer[first : first + rows].ctypes.data  # slots are the outer axis
            binding.bind_input(past, "cpu", 0, model.dtype, shape, pointer)
            binding.bind_output(present, "cpu", 0, model.dtype, shape, pointer)
        logits = np.empty((rows, out_len, model.vocab), np.float32)
        binding.bind_output("logits", "cpu", 0, np.float32, list(logits.shape), logits.ctypes.data)
        return binding, logits
