"""The exported decoder as a function of (tokens, mask, KV cache), and cache bookkeeping.

Two cache layouts, chosen by the manifest's ``graph.padding_side`` (``runtime.batch`` holds
the running batch built on each):

- ``left`` (optimum's export: attention over the concatenated cache). Every row ends at
  the last of ``L`` shared columns, so a decode step appends one column for all rows and
  the ``present`` outputs become the next ``past`` inputs.
- ``right`` (fused GroupQueryAttention graphs). Every row starts at column 0; the graph
  writes each row's new key/value at that row's own length, read from the mask.

Either way padding columns are masked out and positions follow the row's own tokens, so a
row sees exactly what it would see alone.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import onnxruntime as ort

from runtime.artifact import Artifact

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
        self.context_tokens = artifact.context_tokens  # no row holds more

    @property
    def kv_bytes_per_token(self) -> int:
        """One token's keys and values in every layer (layers x 2 x kv_heads x head_dim)."""
        return len(self.past_names) * self.kv_heads * self.head_dim * np.dtype(self.dtype).itemsize

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
