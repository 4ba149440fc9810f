"""Decode speed of raw llama-cpp-python in the interpreter that runs this file (no playground code).

Used by the local benchmarks to time a build or a thread setting in a process of its own:
    python bench/decode_probe.py MODEL.gguf THREADS ROUNDS MAX_TOKENS
prints one JSON line: {"features", "tok_s": [...], "ttft_s": [...]} (decode tok/s = tokens after the first
over the time after the first).
"""

from __future__ import annotations

import json
import sys
import time

PROMPT = "Write a short story about a lighthouse keeper."


def main() -> None:
    path, threads, rounds, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    import llama_cpp
    from llama_cpp import Llama

    llama = Llama(model_path=path, n_ctx=1024, n_threads=threads, n_threads_batch=threads, verbose=False)
    tokens = llama.tokenize(PROMPT.encode(), add_bos=True, special=True)
    speeds, ttfts = [], []
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        started = time.perf_counter()
        first = None
        count = 0
        for chunk in llama.create_completion(
            prompt=tokens, max_tokens=max_tokens, temperature=0.0, seed=1, stream=True
        ):
            if chunk["choices"][0]["finish_reason"] is not None:
                continue
            count += 1
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        speeds.append((count - 1) / (end - first))
        ttfts.append(first - started)
    info = llama_cpp.llama_print_system_info().decode()
    features = sorted({p.split("=")[0].split(":")[-1].strip() for p in info.split("|") if p.strip().endswith("= 1")})
    print(json.dumps({"features": features, "tok_s": speeds[1:], "ttft_s": ttfts[1:]}))


if __name__ == "__main__":
    main()
