"""Running calls: adapters from specs, the one runner that times, counts, prices and guards every call, the fan-out to several models, and the estimate made before sending."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "run_model": "runner",
        "RetryPolicy": "runner",
        "FanOut": "fanout",
        "Job": "fanout",
        "Delta": "fanout",
        "Waiting": "fanout",
        "Done": "fanout",
        "Event": "fanout",
        "build_provider": "registry",
        "usability": "registry",
        "api_key": "registry",
        "Keys": "registry",
        "Keyring": "registry",
        "keyring_of": "registry",
        "call_target": "registry",
        "cost_of": "pricing",
        "price_for": "pricing",
        "SpeechPrice": "pricing",
        "speech_price_for": "pricing",
        "speech_cost_of": "pricing",
        "image_price_for": "pricing",
        "image_cost_of": "pricing",
        "ImagePrice": "pricing",
        "genai_prices_data_date": "pricing",
        "estimator_for": "tokens",
        "Estimate": "preflight",
        "estimate": "preflight",
        "estimate_embedding": "preflight",
        "check_fits": "preflight",
        "PreflightError": "preflight",
    },
)
