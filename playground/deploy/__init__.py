"""Deploy: serve a chosen model (bundled, tuned, or any GGUF file) as an OpenAI-compatible endpoint with
llama.cpp's server, follow and stop it from any replica; recipes for vLLM and TGI."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "Deployments": "service",
        "DeploymentView": "service",
        "DeployRefusedError": "service",
        "Health": "service",
        "Launched": "service",
        "snippet_for": "service",
        "DEFAULT_HOST": "service",
        "DeployError": "ggufs",
        "GgufFacts": "ggufs",
        "ENGINES": "recipes",
        "EndpointEntry": "recipes",
        "Recipe": "recipes",
        "recipe": "recipes",
        "endpoint_entry": "recipes",
    },
)
