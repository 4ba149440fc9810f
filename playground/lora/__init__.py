"""Local LoRA fine-tuning of the bundled SmolLM2-135M on the CPU (peft + transformers, chosen in
bench/lora_choice.md): a job in a worker process of its own, a GGUF LoRA adapter llama.cpp loads, and the
tuned model as a model key `smollm2-135m+NAME` that Compare and Evaluate can call."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "AdapterError": "errors",
        "TrainingSetError": "errors",
        "TunedModelNameError": "errors",
        "TuningFailedError": "errors",
        "TuneSettingsError": "errors",
        "UnknownBaseModelError": "errors",
        "TrainingExample": "dataset",
        "parse_training_set": "dataset",
        "read_training_set": "dataset",
        "TuneSettings": "settings",
        "BASE_MODELS": "settings",
        "TuneProgress": "signals",
        "TuneEnded": "signals",
        "LocalTuneJob": "job",
        "start_local_tune": "job",
        "TunedModel": "tuned",
        "list_tuned_models": "tuned",
        "tuned_specs": "tuned",
        "with_tuned_models": "tuned",
        "tuned_models_dir": "tuned",
        "check_name": "tuned",
        "read_adapter_facts": "gguf_adapter",
        "sample_training_set": "samples",
        "sample_heldout_set": "samples",
        "SAMPLE_PATTERN": "samples",
        "HeldOutQuestion": "samples",
        "sample_heldout_path": "samples",
    },
)
