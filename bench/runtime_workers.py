"""Benchmark peers as line-oriented workers: one JSON request per stdin line, one reply each.

    python runtime_workers.py llama GGUF THREADS       (run with the llama-cpp-python venv)
    python runtime_workers.py optimum ARTIFACT THREADS (run with the project venv)

A request is {"prompt": <rendered chat prompt>, "max_tokens": n, "reuse_prefix": bool} (llama.cpp
keeps the previous prompt's KV for a common prefix unless told not to); the reply is
{"ttft": s, "tokens": n, "decode_s": s} (greedy, stops at EOS), or {"rss_mb": peak} for
{"rss": true}. Kept dependency-free so it runs in either virtual environment.
"""

from __future__ import annotations

import json
import sys
import time


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def llama_worker(gguf: str, threads: int):
    from llama_cpp import Llama

    llm = Llama(
        model_path=gguf,
        n_ctx=2048,
        n_threads=threads,
        n_threads_batch=threads,
        n_batch=512,
        verbose=False,
    )

    def generate(prompt: str, max_tokens: int, reuse_prefix: bool) -> dict:
        ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        if not reuse_prefix:
            llm.reset()  # each request pays its whole prefill
        start = time.perf_counter()
        stamps = []
        for _ in llm.create_completion(ids, max_tokens=max_tokens, temperature=0.0, stream=True):
            stamps.append(time.perf_counter())
        return _timing(start, stamps)

    return generate


def optimum_worker(artifact: str, threads: int):
    import onnxruntime as ort
    import torch
    from optimum.onnxruntime import ORTModelForCausalLM
    from tokenizers import Tokenizer
    from transformers.generation.streamers import BaseStreamer

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    model = ORTModelForCausalLM.from_pretrained(
        artifact,
        use_cache=True,
        use_io_binding=False,
        session_options=options,
        provider="CPUExecutionProvider",
    )
    tokenizer = Tokenizer.from_file(f"{artifact}/tokenizer.json")

    class Stamps(BaseStreamer):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.prompt_seen = False

        def put(self, value: torch.Tensor) -> None:
            # The first call carries the prompt; EOS is not a generated token for the others.
            if self.prompt_seen and int(value.reshape(-1)[-1]) != 2:
                self.times.append(time.perf_counter())
            self.prompt_seen = True

        def end(self) -> None:
            pass

    def generate(prompt: str, max_tokens: int, reuse_prefix: bool) -> dict:
        ids = torch.tensor([tokenizer.encode(prompt, add_special_tokens=False).ids])
        stamps = Stamps()
        start = time.perf_counter()
        model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_tokens,
            do_sample=False,
            eos_token_id=2,
            pad_token_id=2,
            streamer=stamps,
        )
        return _timing(start, stamps.times)

    return generate


def _timing(start: float, stamps: list[float]) -> dict:
    return {
        "ttft": stamps[0] - start if stamps else None,
        "tokens": len(stamps),
        "decode_s": stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0,
    }


def main() -> None:
    kind, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    generate = (llama_worker if kind == "llama" else optimum_worker)(path, threads)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("rss"):
            reply = {"rss_mb": peak_rss_mb()}
        else:
            reply = generate(request["prompt"], request["max_tokens"], request["reuse_prefix"])
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
