"""Speech models compared: transcripts (seconds, real-time factor, WER, cost) and voices (seconds,
real-time factor, round-trip intelligibility, cost), on the bundled models and hosted ones."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "AudioFile": "audio_input",
        "AudioFileError": "audio_input",
        "read_audio": "audio_input",
        "max_audio_seconds": "audio_input",
        "MAX_AUDIO_ENV": "audio_input",
        "SpeechPayer": "billing",
        "SPEECH_CALL": "billing",
        "Accuracy": "scoring",
        "accuracy": "scoring",
        "normalised": "scoring",
        "SpeechError": "service",
        "SpeechResult": "service",
        "TranscriptResult": "service",
        "speak_compare": "service",
        "transcribe_compare": "service",
        "code_for": "service",
        "DEFAULT_LISTENER": "service",
        "Sample": "samples",
        "load_samples": "samples",
        "LabelledAudio": "evaluation",
        "SpeechEvaluation": "evaluation",
        "TranscriberSummary": "evaluation",
        "evaluate_transcribers": "evaluation",
        "read_set": "evaluation",
        "parse_set": "evaluation",
        "shipped_set": "evaluation",
    },
)
