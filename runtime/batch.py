"""The running batch's KV cache, in the layout the graph supports.

- ``ConcatBatch`` (optimum's graphs): each step returns a new, one column longer cache.
- ``SharedBatch`` (fused GroupQueryAttention graphs): preallocated buffers that ONNX
  Runtime reads as ``past`` and writes as ``present`` in place, a prefix cache, and long
  prompts prefilled a chunk at a time beside the decoding rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

import numpy as np
import onnxruntime as ort

from runtime.model import BatchCache, OnnxCausalLM, merge, select
from runtime.prefix import MIN_REUSE, MIN_TAIL, Hit, PrefixCache, common_prefix


def new_batch(model: OnnxCausalLM, prefixes: PrefixCache | None = None, max_rows: int = 0) -> Batch:
    """An empty running batch in the layout this graph supports, for up to ``max_rows``
    rows (0: any number).

    Only the shared layout reuses ``prefixes`` and prefills in chunks: its graphs can extend
    one row's cache with the rest of a prompt.
    """
    return SharedBatch(model, prefixes, max_rows) if model.right_padded else ConcatBatch(model)


Ready = Callable[[int, np.ndarray], None]


class Batch(Protocol):
    """The running batch's KV cache as the engine drives it; rows keep their order."""

    @property
    def rows(self) -> int: ...

    def admit(self, prompts: list[list[int]], ready: Ready | None = None) -> np.ndarray:
        """Prefill ``prompts`` as new rows after the existing ones; last-token logits [j, V].

        ``ready(i, logits)`` is called as soon as prompt ``i``'s logits are known, which
        can be before the later prompts are prefilled (its first token can go out then)."""
        ...

    def step(self, tokens: np.ndarray) -> np.ndarray:
        """Append ``tokens`` int64 [B] to every row; next-token logits [B, V]."""
        ...

    def keep(self, rows: list[int]) -> None:
        """Keep only ``rows`` (ascending indices), in that order."""
        ...

    @property
    def chunked(self) -> bool:
        """Whether long prompts can be prefilled a chunk at a time (``stage``/``advance``)."""
        ...

    def stage(self, prompt: list[int]) -> None:
        """Start prefilling one long prompt outside the decoding rows."""
        ...

    def advance(self, tokens: int) -> np.ndarray | None:
        """Prefill up to ``tokens`` more of the staged prompt. When it is complete, its row
        joins after the existing ones and its last-token logits [V] are returned."""
        ...

    def unstage(self) -> None:
        """Forget the staged prompt (its request went away)."""
        ...


class ConcatBatch:
    """optimum's graphs: each step returns a new, one column longer cache (see merge/select)."""

    def __init__(self, model: OnnxCausalLM) -> None:
        self.model = model
        self.cache: BatchCache | None = None

    @property
    def rows(self) -> int:
        return self.cache.rows if self.cache is not None else 0

    def admit(self, prompts: list[list[int]], ready: Ready | None = None) -> np.ndarray:
        logits, cache = self.model.prefill(prompts)
        self.cache = cache if self.cache is None else merge(self.cache, cache)
        for row in range(len(prompts) if ready is not None else 0):
            ready(row, logits[row])
        return logits

    def step(self, tokens: np.ndarray) -> np.ndarray:
        assert self.cache is not None
        logits, self.cache = self.model.decode(tokens, self.cache)
        return logits

    def keep(self, rows: list[int]) -> None:
        if rows == list(range(self.rows)):
            return
        self.cache = select(self.cache, rows) if rows and self.cache is not None else None

    chunked = False  # optimum's attention cannot extend one row while others wait

    def stage(self, prompt: list[int]) -> None:
        raise NotImplementedError

    def advance(self, tokens: int) -> np.ndarray | None:
        raise NotImplementedError

    def unstage(self) -> None:
        raise NotImplementedError


class SharedBatch:
    """GroupQueryAttention graphs: one buffer per cache tensor, [slots, kv, capacity, hd].

    Live rows occupy slots 0..rows-1, so ``buffer[first:first + n]`` is one contiguous block
    that ONNX Runtime reads as ``past`` and writes as ``present`` (same pointer: GQA then
    skips its copy of the whole cache, which at 16 rows was a quarter of every step). Copies
    happen only when the buffers grow (geometrically, so rarely), when a row leaves (each
    later row moves down one slot, its own length only) and when few rows are left (the
    buffers shrink to fit them; see ``_fit``).

    With a prefix cache, a prompt whose start is cached gets that KV copied into its slot and
    only the rest computed (GroupQueryAttention extends a cache one row at a time); prompts
    without a hit are prefilled together, right-padded.

    A long prompt can instead be staged: prefilled a chunk per engine step into a buffer of
    its own while the other rows keep decoding, then copied into the next slot.
    """

    GROW = 256  # capacity grows in multiples of this many positions

    def __init__(
        self, model: OnnxCausalLM, prefixes: PrefixCache | None = None, max_rows: int = 0
    ) -> None:
        self.model = model
        self.prefixes = prefixes
        self.max_rows = max_rows  # slots never outnumber them (0: no bound)
        self.lengths = np.zeros(0, np.int64)  # tokens each live row holds
        self.buffers: list[np.ndarray] = []
        self._binding: tuple[tuple[int, ...], ort.IOBinding, np.ndarray] | None = None
        self._staged: _Staged | None = None

    @property
    def rows(self) -> int:
        return len(self.lengths)

    @property
    def capacity(self) -> int:
        return self.buffers[0].shape[2] if self.buffers else 0

    def admit(self, prompts: list[list[int]], ready: Ready | None = None) -> np.ndarray:
        first = self.rows
        self._reserve(first + len(prompts), max(len(p) for p in prompts))
        logits: list[np.ndarray] = []
        while len(logits) < len(prompts):
            start = len(logits)
            same = prompts.index(prompts[start])
            hit = self._lookup(prompts[start]) if same == start else None
            if same < start:  # n > 1: the choices share one prefill
                self._copy_row(first + same, first + start, len(prompts[start]))
                logits.append(logits[same].copy())
            elif hit is not None:
                logits.append(self._extend(first + start, prompts[start], hit))
            else:
                group = self._cold_group(prompts, start)
                logits.extend(self._prefill(first + start, group))
            for row in range(start, len(logits)):
                self._remember(first + row, prompts[row])
                if ready is not None:
                    ready(row, logits[row])
        lengths = np.array([len(p) for p in prompts], np.int64)
        self.lengths = np.concatenate([self.lengths, lengths])
        return np.stack(logits)

    def _copy_row(self, source: int, target: int, used: int) -> None:
        for buffer in self.buffers:
            buffer[target, :, :used] = buffer[source, :, :used]

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
            if shares or prompt in group:
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
        done = self._take_prefix([buffer[slot] for buffer in self.buffers], hit)
        ids = np.array([prompt[done:]], np.int64)
        logits = self._run(ids, np.ones((1, len(prompt)), np.int64), slot)
        return np.array(logits[0, -1])  # a copy: the buffer is reused by the next run

    def _take_prefix(self, rows: list[np.ndarray], hit: Hit) -> int:
        """Copy a hit into one row ([kv, capacity, hd]) of each cache tensor; count it."""
        for row, cached in zip(rows, hit.kv, strict=True):
            row[:, : hit.length] = cached[:, : hit.length]
        assert self.prefixes is not None
        self.prefixes.hit_tokens += hit.length
        return hit.length

    def _remember(self, slot: int, prompt: list[int]) -> None:
        if self.prefixes is not None:
            used = len(prompt)
            self.prefixes.store(prompt, [buffer[slot, :, :used] for buffer in self.buffers])

    chunked = True

    def stage(self, prompt: list[int]) -> None:
        model = self.model
        shape = (1, model.kv_heads, _round_up(len(prompt), self.GROW), model.head_dim)
        staged = _Staged(prompt, 0, [np.zeros(shape, model.dtype) for _ in model.past_names])
        hit = self._lookup(prompt)
        if hit is not None:
            staged.done = self._take_prefix([buffer[0] for buffer in staged.buffers], hit)
        self._staged = staged

    def advance(self, tokens: int) -> np.ndarray | None:
        staged = self._staged
        assert staged is not None, "nothing staged"
        start, end = staged.done, min(len(staged.prompt), staged.done + tokens)
        if 0 < len(staged.prompt) - end < MIN_TAIL:
            end = len(staged.prompt) - MIN_TAIL  # no one-token last piece (see prefix.py)
        out_len = 1 if self.model.last_only else end - start
        binding, logits = self._bind(staged.buffers, 0, 1, out_len)
        ids = np.array([staged.prompt[start:end]], np.int64)
        self._forward(binding, logits, ids, np.ones((1, end), np.int64))
        staged.done = end
        if end < len(staged.prompt):
            return None
        slot, self._staged = self.rows, None
        self._reserve(slot + 1, end)
        for buffer, row in zip(self.buffers, staged.buffers, strict=True):
            buffer[slot, :, :end] = row[0, :, :end]
        self.lengths = np.append(self.lengths, end)
        self._remember(slot, staged.prompt)
        return np.array(logits[0, -1])

    def unstage(self) -> None:
        self._staged = None

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
        self._fit()

    def _fit(self) -> None:
        """Give back KV memory the live rows do not need, so memory follows the load: all of
        it once the batch drains, and half the slots or positions once the live rows use a
        quarter of them (the gap keeps a batch that shrinks and regrows from copying often)."""
        if not self.rows:
            self.buffers, self._binding = [], None
            return
        slots, capacity = self.buffers[0].shape[0], self.capacity
        longest = int(self.lengths.max()) + 1  # the next step writes one more column
        if self.rows * 4 > slots and (longest * 4 > capacity or capacity <= self.GROW):
            return
        slots = min(slots, 2 * self.rows)
        capacity = min(capacity, _round_up(2 * longest, self.GROW))
        model, used = self.model, longest - 1
        shape = (slots, model.kv_heads, capacity, model.head_dim)
        fitted = [np.zeros(shape, model.dtype) for _ in model.past_names]
        for new, old in zip(fitted, self.buffers, strict=True):
            new[: self.rows, :, :used] = old[: self.rows, :, :used]
        self.buffers, self._binding = fitted, None

    def _reserve(self, rows: int, length: int) -> None:
        slots, capacity = (self.buffers[0].shape[0], self.capacity) if self.buffers else (0, 0)
        if rows <= slots and length <= capacity:
            return
        # Grow geometrically: reallocating means copying every live row. ``_fit`` shrinks
        # them again as rows leave; pages no row has touched are never resident. Neither
        # outgrows what a row (the context) or the batch (``max_rows``) can use: buffers below
        # glibc's mmap threshold come from the heap, where calloc clears (touches) reused pages; the
        # task's memory bound (memory.rows_that_fit) counts rows x context, no more.
        model = self.model
        if length > capacity:
            wider = _round_up(max(length, capacity * 3 // 2), self.GROW)
            capacity = max(length, min(wider, model.context_tokens))
        if rows > slots:
            slots = max(rows, min(2 * slots, self.max_rows or 2 * slots))
        used = self.rows
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
            self._binding = (key, *self._bind(self.buffers, first, rows, out_len))
        _, binding, logits = self._binding
        return self._forward(binding, logits, ids, mask)

    def _forward(
        self, binding: ort.IOBinding, logits: np.ndarray, ids: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("attention_mask", mask)
        self.model.session.run_with_iobinding(binding)
        return logits

    def _bind(
        self, buffers: list[np.ndarray], first: int, rows: int, out_len: int
    ) -> tuple[ort.IOBinding, np.ndarray]:
        model = self.model
        binding = model.session.io_binding()
        shape = [rows, model.kv_heads, buffers[0].shape[2], model.head_dim]
        for past, present, buffer in zip(
            model.past_names, model.present_names, buffers, strict=True
        ):
            pointer = buffer[first : first + rows].ctypes.data  # slots are the outer axis
            binding.bind_input(past, "cpu", 0, model.dtype, shape, pointer)
            binding.bind_output(present, "cpu", 0, model.dtype, shape, pointer)
        logits = np.empty((rows, out_len, model.vocab), np.float32)
        binding.bind_output("logits", "cpu", 0, np.float32, list(logits.shape), logits.ctypes.data)
        return binding, logits


@dataclasses.dataclass
class _Staged:
    """A long prompt being prefilled a chunk at a time, outside the decoding rows."""

    prompt: list[int]
    done: int  # tokens whose KV is already in ``buffers``
    buffers: list[np.ndarray]  # one row per cache tensor: [1, kv, capacity, hd]


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step
