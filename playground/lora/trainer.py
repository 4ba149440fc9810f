"""The training itself, run inside the job's worker process (never in the app or CLI process).

It reports to the caller through a multiprocessing queue and to a JSON-lines log in the model's folder,
and checks the stop flag before every step: a stopped job ends at the next step boundary.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from playground.lora.gguf_adapter import AdapterShape, write_adapter
from playground.lora.settings import BASE_MODELS, TARGET_MODULES, TuneSettings
from playground.lora.signals import TuneEnded, TuneProgress
from playground.lora.tuned import write_manifest

ADAPTER_FILE = "adapter.gguf"
LOG_FILE = "train.log"
_IGNORED = -100  # the label torch's cross-entropy skips: prompt tokens and padding are not learnt
_ETA_WINDOW = 10  # steps whose mean time predicts the rest


class _Reporter:
    """Every message goes to the caller's queue and, as one JSON line, to the log."""

    def __init__(self, channel: Any, log_path: Path) -> None:
        self.channel = channel
        self.log = log_path.open("a", encoding="utf-8")

    def send(self, message: TuneProgress | TuneEnded) -> None:
        record = {"kind": type(message).__name__, **asdict(message)}
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()
        self.channel.put(message)


def _load_base(base: str) -> tuple[Any, Any, Path]:
    """Tokenizer and float32 model, dequantized from the bundled GGUF (no download: the file is local)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from providers.local_models import gguf_path

    path = gguf_path(BASE_MODELS[base])
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return tokenizer, model, path


def _encode(tokenizer: Any, settings: TuneSettings) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per example: the chat template's text, with only the last answer learnt."""
    encoded = []
    for example in settings.examples:
        chat = example.as_chat()
        prompt = tokenizer.apply_chat_template(chat[:-1], add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(chat, tokenize=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        labels = [_IGNORED] * len(prompt_ids) + ids[len(prompt_ids) :]
        # Cut from the left of the prompt, so the answer (what is learnt) stays whole where it can.
        ids, labels = ids[-settings.max_tokens :], labels[-settings.max_tokens :]
        encoded.append((ids, labels))
    return encoded


def _batch(rows: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = [r[0] + [pad_id] * (width - len(r[0])) for r in rows]
    labels = [r[1] + [_IGNORED] * (width - len(r[1])) for r in rows]
    mask = [[1] * len(r[0]) + [0] * (width - len(r[0])) for r in rows]
    return {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(mask),
    }


def _peft_model(model: Any, settings: TuneSettings) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        target_modules=list(TARGET_MODULES),
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def _train(
    peft_model: Any, data: list, settings: TuneSettings, reporter: _Reporter, stop: Any
) -> tuple[int, float | None]:
    """The optimisation loop: (steps done, fewer than asked when stopped; the last loss)."""
    import torch

    optimizer = torch.optim.AdamW(
        [p for p in peft_model.parameters() if p.requires_grad], lr=settings.learning_rate
    )
    rng = random.Random(settings.seed)
    order: list[int] = []
    started, times, value = time.monotonic(), [], None
    peft_model.train()
    for step in range(1, settings.steps + 1):
        if stop.is_set():
            return step - 1, value
        if len(order) < settings.batch_size:
            order += rng.sample(range(len(data)), len(data))
        rows, order = [data[i] for i in order[: settings.batch_size]], order[settings.batch_size :]
        began = time.monotonic()
        loss = peft_model(**_batch(rows, peft_model.config.pad_token_id or 0)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.monotonic() - began)
        recent = times[-_ETA_WINDOW:]
        left = sum(recent) / len(recent) * (settings.steps - step)
        value = float(loss.item())
        value = value if math.isfinite(value) else None
        reporter.send(TuneProgress(step, settings.steps, value, time.monotonic() - started, left, times[-1]))
    return settings.steps, value


def run(settings: TuneSettings, channel: Any, stop: Any) -> None:
    """The worker's body: load, train, write the adapter; every ending is reported as one TuneEnded."""
    # Ctrl-C in a terminal goes to the whole process group: the caller turns it into stop(), so the
    # worker ends at a step boundary instead of dying mid-step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings.folder.mkdir(parents=True, exist_ok=True)
    reporter = _Reporter(channel, settings.folder / LOG_FILE)
    try:
        import torch

        torch.manual_seed(settings.seed)
        torch.set_num_threads(settings.threads or os.cpu_count() or 1)
        tokenizer, model, base_path = _load_base(settings.base)
        if model.config.model_type != "llama":
            raise ValueError(f"base {settings.base} is {model.config.model_type}, not llama")
        data = _encode(tokenizer, settings)
        peft_model = _peft_model(model, settings)
        done, last_loss = _train(peft_model, data, settings, reporter, stop)
        if done < settings.steps:
            reporter.send(TuneEnded("stopped", done, f"stopped after {done} of {settings.steps} steps"))
            return
        shape = AdapterShape(
            "llama",
            model.config.num_hidden_layers,
            model.config.num_attention_heads,
            model.config.num_key_value_heads,
            settings.rank,
            settings.alpha,
        )
        adapter = write_adapter(peft_model, shape, settings.folder / ADAPTER_FILE, settings.name)
        write_manifest(settings, adapter, last_loss)
        reporter.send(
            TuneEnded("finished", done, f"adapter written: {adapter.name}", str(adapter), str(base_path))
        )
    except Exception as exc:  # noqa: BLE001 - the worker's one report of any failure, then it ends
        reporter.send(TuneEnded("failed", 0, f"{type(exc).__name__}: {exc}"))
