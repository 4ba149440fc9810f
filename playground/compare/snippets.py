"""Ready-to-run code reproducing one model's call; keys appear as environment variable references only."""

from __future__ import annotations

import json
from typing import Any

from playground.core.specs import ModelSpec
from providers.base import ChatRequest


def _params(request: ChatRequest) -> dict[str, Any]:
    values: dict[str, Any] = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "stop": list(request.stop) or None,
    }
    return {k: v for k, v in values.items() if v is not None}


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in request.messages]


def _kwargs(values: dict[str, Any], indent: str = "    ") -> str:
    return "".join(f"{indent}{k}={v!r},\n" for k, v in values.items())


def python_snippet(spec: ModelSpec, request: ChatRequest) -> str:
    """Python with the SDK that matches the spec's provider."""
    params = _params(request)
    if spec.provider == "llamacpp":
        if request.is_completion:
            call = "llm.create_completion(\n" + _kwargs({"prompt": request.raw_text, **params})
            show = 'print(response["choices"][0]["text"])'
        else:
            call = "llm.create_chat_completion(\n" + _kwargs({"messages": _messages(request), **params})
            show = 'print(response["choices"][0]["message"]["content"])'
        return (
            "from llama_cpp import Llama\n\n"
            f"llm = Llama(model_path={spec.gguf or spec.model!r}, n_ctx={spec.context_window or 4096})\n"
            f"response = {call})\n{show}\n"
        )
    if spec.provider == "huggingface":
        target = (
            f"base_url={spec.base_url!r}" if spec.base_url else f"provider={spec.hf_provider or 'auto'!r}"
        )
        model_arg = "" if spec.base_url else f"    model={spec.model!r},\n"
        return (
            "import os\nfrom huggingface_hub import InferenceClient\n\n"
            f"client = InferenceClient({target}, api_key=os.environ[{(spec.api_key_env or 'HF_TOKEN')!r}])\n"
            "response = client.chat_completion(\n"
            + model_arg
            + _kwargs({"messages": _messages(request), **params})
            + ")\nprint(response.choices[0].message.content)\n"
        )
    if spec.provider == "azure":
        client = (
            "client = AzureOpenAI(\n"
            f"    api_key=os.environ[{spec.api_key_env or 'AZURE_OPENAI_API_KEY'!r}],\n"
            f"    azure_endpoint=os.environ[{spec.endpoint_env or 'AZURE_OPENAI_ENDPOINT'!r}],\n"
            f"    api_version={spec.api_version or '2024-10-21'!r},\n)\n"
        )
        head = "import os\nfrom openai import AzureOpenAI\n\n"
    else:
        key = f"os.environ[{spec.api_key_env!r}]" if spec.api_key_env else '"none"'
        base = f", base_url={spec.base_url!r}" if spec.base_url else ""
        client = f"client = OpenAI(api_key={key}{base})\n"
        head = "import os\nfrom openai import OpenAI\n\n"
    if request.is_completion:
        body = (
            "response = client.completions.create(\n"
            + _kwargs({"model": spec.model, "prompt": request.raw_text, **params})
            + ")\nprint(response.choices[0].text)\n"
        )
    else:
        body = (
            "response = client.chat.completions.create(\n"
            + _kwargs({"model": spec.model, "messages": _messages(request), **params})
            + ")\nprint(response.choices[0].message.content)\n"
        )
    return head + client + body


def curl_snippet(spec: ModelSpec, request: ChatRequest) -> str | None:
    """curl for HTTP models (None for in-process ones); the key is read from the environment."""
    if spec.provider == "llamacpp":
        return None
    params = _params(request)
    if spec.provider == "azure":
        env = spec.endpoint_env or "AZURE_OPENAI_ENDPOINT"
        url = f"${env}/openai/deployments/{spec.model}/chat/completions?api-version={spec.api_version or '2024-10-21'}"
        auth = f'-H "api-key: ${spec.api_key_env or "AZURE_OPENAI_API_KEY"}"'
        payload: dict[str, Any] = {"messages": _messages(request), **params}
    elif spec.provider == "huggingface":
        url = (
            f"{spec.base_url}/chat/completions"
            if spec.base_url
            else "https://router.huggingface.co/v1/chat/completions"
        )
        auth = f'-H "Authorization: Bearer ${spec.api_key_env or "HF_TOKEN"}"'
        payload = {"model": spec.model, "messages": _messages(request), **params}
    else:
        base = (spec.base_url or "https://api.openai.com/v1").rstrip("/")
        path = "completions" if request.is_completion else "chat/completions"
        url = f"{base}/{path}"
        auth = f'-H "Authorization: Bearer ${spec.api_key_env}"' if spec.api_key_env else ""
        payload = {"model": spec.model, **params}
        payload.update(
            {"prompt": request.raw_text} if request.is_completion else {"messages": _messages(request)}
        )
    body = json.dumps(payload, indent=2).replace("'", "'\\''")
    return f'curl "{url}" \\\n  -H "Content-Type: application/json" {auth} \\\n  -d \'{body}\'\n'
