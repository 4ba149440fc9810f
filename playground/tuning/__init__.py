"""Fine-tuning: check a training set before anything is spent (bad lines, tokens, cost, held-out split),
run jobs on hosted APIs (OpenAI, Azure OpenAI) followed from any replica, chart their loss, and compare
the tuned model with its base on the held-out split."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "BadLine": "check",
        "Example": "check",
        "TrainingCheck": "check",
        "TrainingCost": "check",
        "TrainingFileError": "check",
        "check_training_file": "check",
        "LossPoint": "service",
        "Tuning": "service",
        "TuningError": "service",
        "TuningJob": "service",
        "TUNE_CALL": "service",
        "models_file_entry": "service",
        "tuned_key": "service",
        "loss_chart": "charts",
        "BaseVsTuned": "versus",
        "compare_base_tuned": "versus",
        "compare_on": "versus",
        "compare_local_tune": "versus",
    },
)
