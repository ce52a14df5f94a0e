"""`servespec model finetune`: a LoRA adapter (peft) trained on chat examples.

Examples come from a JSON Lines file of ``{"messages": [...]}`` chats (the last message is
the assistant's answer to learn), or from capture records: request records that kept their
text and whose response was rated positive. Only the answer's tokens are learned (the
prompt's labels are masked). The output is a peft adapter directory, which the spec's
``model.adapter.path`` merges into the weights before export, so the tuned model passes the
same parity and perplexity gates as any other build.

QLoRA's 4-bit base needs bitsandbytes, whose 4-bit kernels run on CUDA GPUs only: on a CPU
the base stays fp32 and only LoRA is trained (``--qlora`` says so and stops).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.loop.records import Record, RecordError, parse_lines, read_records


class FinetuneError(ValueError):
    """The training data or the options cannot be used (the message says where)."""


@dataclass(frozen=True)
class Options:
    steps: int = 60
    learning_rate: float = 1e-3
    rank: int = 8
    alpha: int = 16
    seed: int = 0
    max_tokens: int = 512


@dataclass(frozen=True)
class Example:
    messages: tuple[tuple[str, str], ...] = ()  # (role, content); the last one is learned
    prompt: str | None = None  # a rendered prompt from capture, with its completion
    completion: str | None = None


def load_examples(path: Path) -> list[Example]:
    """Chats from a ``messages`` file, or positively rated exchanges from capture records."""
    text = path.read_text(encoding="utf-8")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if '"type"' in first:
        return _from_capture(str(path), text)
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            messages = json.loads(line)["messages"]
            pairs = tuple((str(m["role"]), str(m["content"])) for m in messages)
        except (ValueError, KeyError, TypeError):
            raise FinetuneError(
                f'{where}: expected {{"messages": [{{role, content}}...]}}'
            ) from None
        if not pairs or pairs[-1][0] != "assistant":
            raise FinetuneError(f"{where}: the last message must be the assistant's answer")
        examples.append(Example(messages=pairs))
    if not examples:
        raise FinetuneError(f"{path}: no examples")
    return examples


def load_capture(uri: str, endpoint_url: str | None = None) -> list[Example]:
    """Positively rated exchanges straight from the capture bucket (s3://): the records are
    read over TLS into memory and never written to local disk."""
    try:
        return rated_examples(uri, read_records([uri], endpoint_url))
    except RecordError as exc:
        raise FinetuneError(str(exc)) from None


def _from_capture(name: str, text: str) -> list[Example]:
    try:
        records = list(parse_lines(name, text))
    except RecordError as exc:
        raise FinetuneError(str(exc)) from None
    return rated_examples(name, records)


def rated_examples(name: str, records: list[Record]) -> list[Example]:
    liked = {r["id"] for r in records if r["type"] == "feedback" and r.get("rating") == 1}
    examples = [
        Example(prompt=r["prompt"], completion=r["completion"])
        for r in records
        if r["type"] == "request" and r["id"] in liked and r.get("prompt") and r.get("completion")
    ]
    if not examples:
        raise FinetuneError(
            f"{name}: no positively rated request with text (capture.keep_text must be on)"
        )
    return examples


def tokenize(example: Example, tokenizer: Any, max_tokens: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) with the prompt's labels masked (-100): only the answer is learned."""
    if example.prompt is not None:
        prompt, full = example.prompt, example.prompt + (example.completion or "")
        prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
        ids = [*tokenizer.encode(full, add_special_tokens=False), tokenizer.eos_token_id]
    else:
        chat = [{"role": r, "content": c} for r, c in example.messages]
        prompt_ids = tokenizer.apply_chat_template(chat[:-1], add_generation_prompt=True)
        ids = tokenizer.apply_chat_template(chat)
    ids = list(ids)[:max_tokens]
    cut = min(len(prompt_ids), len(ids))
    return ids, [-100] * cut + ids[cut:]


def data_sha256(examples: list[Example]) -> str:
    """A digest of what was learned (files and s3:// sources alike)."""
    return hashlib.sha256(repr(examples).encode()).hexdigest()


def train(
    model: Any, tokenizer: Any, examples: list[Example], options: Options
) -> tuple[Any, list[float]]:
    """A peft LoRA model trained for ``options.steps`` single-example steps, and the loss of
    each step (shown on the progress bar)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm  # type: ignore[import-untyped]

    torch.manual_seed(options.seed)
    config = LoraConfig(
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, config)
    peft_model.train()
    batches = [tokenize(e, tokenizer, options.max_tokens) for e in examples]
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=options.learning_rate)
    order = random.Random(options.seed)
    losses: list[float] = []
    with tqdm(range(options.steps), desc="finetune", unit="step") as bar:
        for step in bar:
            if step % len(batches) == 0:
                order.shuffle(batches)
            ids, labels = batches[step % len(batches)]
            out = peft_model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
            out.loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(out.loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    peft_model.eval()
    return peft_model, losses


def mean_loss(model: Any, tokenizer: Any, examples: list[Example], max_tokens: int) -> float:
    """Mean answer loss over the examples (how well the model says what they say)."""
    import torch

    total = 0.0
    with torch.no_grad():
        for example in examples:
            ids, labels = tokenize(example, tokenizer, max_tokens)
            total += float(model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss)
    return total / len(examples)


def summary(examples: list[Example], options: Options, before: float, after: float,
            seconds: float) -> dict[str, Any]:  # fmt: skip
    return {
        "data_sha256": data_sha256(examples),
        "examples": len(examples),
        "steps": options.steps,
        "learning_rate": options.learning_rate,
        "rank": options.rank,
        "loss_before": round(before, 4),
        "loss_after": round(after, 4),
        "seconds": round(seconds, 1),
        "base_dtype": "float32",
    }


def now() -> float:
    return time.perf_counter()
