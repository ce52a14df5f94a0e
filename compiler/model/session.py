"""A minimal numpy driver for the exported decoder: greedy decoding and teacher-forced logits.

It speaks exactly the artifact's graph contract (input_ids, attention_mask, optional
position_ids, past_key_values.{i}.key|value -> logits, present.{i}.key|value), so the gates
test the same interface the runtime serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class OnnxDecoder:
    """One onnxruntime session over a decoder-with-past graph."""

    def __init__(self, model_path: Path, threads: int = 2) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        names = [i.name for i in self.session.get_inputs()]
        self.has_position_ids = "position_ids" in names
        self.past_names = [n for n in names if n.startswith("past_key_values.")]
        first = next(i for i in self.session.get_inputs() if i.name in self.past_names)
        self.kv_heads = int(first.shape[1])
        self.head_dim = int(first.shape[3])
        logits = next(o for o in self.session.get_outputs() if o.name == "logits")
        # The fused graph returns each row's last position only (a static 1 on axis 1).
        self.last_only = logits.shape[1] == 1

    def forward(
        self, ids: np.ndarray, mask: np.ndarray, past: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One step: returns logits [B, S, V] and the new cache keyed by past_* names."""
        feed: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, **past}
        if self.has_position_ids:
            positions = np.cumsum(mask, axis=1) - 1
            feed["position_ids"] = np.maximum(positions[:, -ids.shape[1] :], 0)
        outputs = self.session.run(None, feed)
        names = [o.name for o in self.session.get_outputs()]
        present = {
            n.replace("present.", "past_key_values."): v
            for n, v in zip(names, outputs, strict=True)
            if n.startswith("present.")
        }
        return outputs[names.index("logits")], present

    def empty_past(self, batch: int) -> dict[str, np.ndarray]:
        shape = (batch, self.kv_heads, 0, self.head_dim)
        return {n: np.zeros(shape, dtype=np.float32) for n in self.past_names}

    def greedy(self, prompt: list[int], new_tokens: int) -> list[int]:
        """Greedy continuation of one prompt, batch 1, no stopping: parity wants every token."""
        ids = np.array([prompt], dtype=np.int64)
        mask = np.ones_like(ids)
        past = self.empty_past(1)
        out: list[int] = []
        for _ in range(new_tokens):
            logits, past = self.forward(ids, mask, past)
            token = int(np.argmax(logits[0, -1]))
            out.append(token)
            ids = np.array([[token]], dtype=np.int64)
            mask = np.concatenate([mask, np.ones((1, 1), dtype=np.int64)], axis=1)
        return out

    def logits(self, tokens: list[int]) -> np.ndarray:
        """Teacher-forced logits [S, V] for one sequence: in one pass, or a token at a time
        through the KV cache when the graph returns the last position only."""
        if not self.last_only:
            ids = np.array([tokens], dtype=np.int64)
            logits, _ = self.forward(ids, np.ones_like(ids), self.empty_past(1))
            return np.asarray(logits[0])
        past, rows = self.empty_past(1), []
        for seen, token in enumerate(tokens, start=1):
            ids = np.array([[token]], dtype=np.int64)
            logits, past = self.forward(ids, np.ones((1, seen), dtype=np.int64), past)
            rows.append(logits[0, -1])
        return np.stack(rows)
