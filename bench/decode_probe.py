"""Decode speed of raw llama-cpp-python in the interpreter that runs this file (no playground code).

Used by the local benchmarks to time a build or a thread setting in a process of its own:
    python bench/decode_probe.py MODEL.gguf THREADS ROUNDS MAX_TOKENS [PROMPT_THREADS]
prints one JSON line: {"features", "tok_s": [...], "ttft_s": [...]}, with the runner's definitions:
decode tok/s = output tokens / (total - TTFT); TTFT from just before the call to the first text.
"""

from __future__ import annotations

import json
import sys
import time

PROMPT = "Once upon a time, in a small village by the sea, there lived a lighthouse keeper who"


def main() -> None:
    path, threads, rounds, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else threads
    import llama_cpp
    from llama_cpp import Llama

    llama = Llama(model_path=path, n_ctx=1024, n_threads=threads, n_threads_batch=batch, verbose=False)
    tokens = llama.tokenize(PROMPT.encode(), add_bos=True, special=True)  # as the worker does
    speeds, ttfts = [], []
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        started = time.perf_counter()
        first = None
        count = 0
        for chunk in llama.create_completion(
            prompt=tokens,
            max_tokens=max_tokens,
            temperature=0.0,
            seed=1,
            stream=True,
        ):
            if chunk["choices"][0]["finish_reason"] is not None:
                continue
            count += 1
            if first is None and chunk["choices"][0]["text"]:
                first = time.perf_counter()
        end = time.perf_counter()
        speeds.append(count / (end - first))
        ttfts.append(first - started)
    # As providers.llama_worker.system_features; repeated because this file also runs in a venv holding
    # only llama-cpp-python (bench_build.py's native build), where the project is not importable.
    info = llama_cpp.llama_print_system_info().decode()
    features = sorted(
        {p.split("=")[0].split(":")[-1].strip() for p in info.split("|") if p.strip().endswith("= 1")}
    )
    print(json.dumps({"features": features, "tok_s": speeds[1:], "ttft_s": ttfts[1:], "tokens": count}))


if __name__ == "__main__":
    main()
