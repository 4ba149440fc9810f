"""Ready-to-run code reproducing one model's call ("View code"); each adapter writes its own."""

from __future__ import annotations

from playground.core.specs import ModelSpec
from playground.engine.registry import call_target
from providers.base import ChatRequest
from providers.table import adapter_for


def python_snippet(spec: ModelSpec, request: ChatRequest) -> str:
    """Python with the SDK that matches the spec's provider and task; keys are environment variable
    references. A speech model's request holds its text (`raw_text`: what is read aloud, or the name of
    the file transcribed)."""
    return adapter_for(spec.provider, spec.task).snippet(call_target(spec), request).python


def curl_snippet(spec: ModelSpec, request: ChatRequest) -> str | None:
    """curl for HTTP models (None for local ones and speech); the key is read from the environment."""
    return adapter_for(spec.provider, spec.task).snippet(call_target(spec), request).curl
