"""Speech models compared, on real parts: the bundled Whisper and Piper on the shipped samples, OpenAI's
audio endpoints through the official SDK against the scripted server, the ledger, and the CLI."""

from __future__ import annotations

import io
import json
import wave
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from playground.cli.main import app
from playground.core.specs import ModelSpec, load_specs
from playground.speech import (
    AudioFileError,
    SpeechError,
    SpeechPayer,
    load_samples,
    read_audio,
    speak_compare,
    transcribe_compare,
)
from playground.speech.samples import SAMPLES_DIR
from playground.storage.runs import Store
from tests.scripted_server import ScriptedServer

# Measured on the shipped samples (bench/speech_models.md's machine, 2 cores): Whisper tiny.en made no
# error on any of the six (WER 0.000, CER 0.000); Piper's output is read back with WER 0.000 too. The
# thresholds leave room for a different CPU's int8 kernels, not for a broken pipeline.
MAX_SAMPLES_WER = 0.05
MAX_ROUND_TRIP_WER = 0.25
KEY_ENV = "SCRIPTED_SPEECH_KEY"


def hosted(server: ScriptedServer, key: str, task: str, scenario: str, **fields: object) -> ModelSpec:
    """A hosted OpenAI-compatible speech model on the scripted server."""
    return ModelSpec(
        key=key,
        provider="openai",
        model=key,
        task=task,
        base_url=server.url(scenario),
        api_key_env=KEY_ENV,
        **fields,
    )


def test_whisper_transcribes_the_shipped_samples_below_the_measured_wer(record_property):
    samples = load_samples()
    assert len(samples) == 6
    wers, rtfs = [], []
    for sample in samples:
        audio = read_audio(sample.wav, sample.name)
        assert 2.5 < audio.seconds < 6
        [result] = transcribe_compare(audio, ["whisper-tiny-en"], sample.sentence)
        assert result.ok, result.error
        assert result.cost_usd is None and result.cost_source == "local"  # never $0
        assert result.accuracy is not None
        wers.append(result.accuracy.wer)
        rtfs.append(result.rtf)
    mean_wer = sum(wers) / len(wers)
    record_property("whisper_tiny_en_mean_wer", mean_wer)
    record_property("whisper_tiny_en_rtf", rtfs)  # recorded, not asserted: it depends on the machine
    assert mean_wer <= MAX_SAMPLES_WER, wers


def test_piper_reads_aloud_and_the_bundled_whisper_understands_it(record_property):
    text = "Please remember to bring your umbrella this afternoon."
    [result] = speak_compare(text, ["piper-joe"])
    assert result.ok, result.error
    assert result.speech is not None and result.speech.sample_rate == 22_050
    with wave.open(io.BytesIO(result.speech.wav)) as reader:
        assert reader.getnchannels() == 1 and reader.getsampwidth() == 2
        assert abs(reader.getnframes() / reader.getframerate() - result.audio_seconds) < 0.01
    assert 2 < result.audio_seconds < 6 and result.characters == len(text)
    assert result.cost_source == "local" and result.cost_per_1k_chars is None
    assert result.intelligibility is not None and result.intelligibility.wer <= MAX_ROUND_TRIP_WER, (
        result.heard
    )
    record_property("piper_joe_rtf", result.rtf)


def test_an_empty_a_corrupt_and_a_too_long_file_each_give_one_error_naming_it(monkeypatch):
    with pytest.raises(AudioFileError, match=r"^empty\.wav is empty \(0 bytes\)$"):
        read_audio(b"", "empty.wav")
    with pytest.raises(AudioFileError, match=r"^corrupt\.mp3 could not be read as audio"):
        read_audio(b"ID3 this is not really an mp3 " * 20, "corrupt.mp3")
    truncated = (SAMPLES_DIR / "s1.wav").read_bytes()[:44]  # a WAV header and no samples
    with pytest.raises(AudioFileError, match=r"^header-only\.wav "):
        read_audio(truncated, "header-only.wav")
    monkeypatch.setenv("PLAYGROUND_MAX_AUDIO_S", "2")
    with pytest.raises(
        AudioFileError, match=r"^s1\.wav is 3 s long, over the 2 s limit \(PLAYGROUND_MAX_AUDIO_S\)$"
    ):
        read_audio((SAMPLES_DIR / "s1.wav").read_bytes(), "s1.wav")


def test_the_bundled_adapter_names_a_corrupt_file_while_another_model_still_answers(scripted, monkeypatch):
    from providers.errors import BadAudioError
    from providers.speech_local import WhisperTranscriber

    with pytest.raises(BadAudioError, match=r"^corrupt\.wav could not be read as audio"):
        WhisperTranscriber(model="tiny.en").transcribe(b"RIFF0000WAVEjunk" * 8, "corrupt.wav")
    monkeypatch.setenv(KEY_ENV, "sk-scripted-speech-0000")
    specs = {
        **load_specs(),
        "broken": hosted(scripted, "broken", "speech-to-text", "status~code=500"),
        "refused": hosted(scripted, "refused", "speech-to-text", "status~code=401"),
    }
    sample = load_samples()[0]
    broken, refused, local = transcribe_compare(
        read_audio(sample.wav, sample.name),
        ["broken", "refused", "whisper-tiny-en"],
        sample.sentence,
        specs=specs,
    )
    assert broken.error is not None and broken.error.kind == "server_error" and broken.text == ""
    assert refused.error is not None and refused.error.kind == "auth"
    assert "sk-scripted" not in refused.error.message
    assert local.ok and local.accuracy is not None and local.accuracy.wer <= MAX_SAMPLES_WER


def test_openai_transcription_and_speech_through_the_sdk_priced_and_in_the_ledger(scripted, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-scripted-speech-0000")
    specs = {
        **load_specs(),
        "scripted-stt": hosted(
            scripted,
            "scripted-stt",
            "speech-to-text",
            "audio~text=the_quick_brown_fox~seconds=3.44",
            price_per_audio_minute=Decimal("0.006"),
        ),
        "scripted-tts": hosted(
            scripted,
            "scripted-tts",
            "text-to-speech",
            "audio~seconds=1.5",
            price_per_1k_chars=Decimal("0.015"),
        ),
    }
    store = Store()
    sample = load_samples()[0]
    audio = read_audio(sample.wav, sample.name)
    payer = SpeechPayer(store=store)
    stt, local = transcribe_compare(
        audio, ["scripted-stt", "whisper-tiny-en"], "The quick brown fox", specs=specs, payer=payer
    )
    assert stt.ok and stt.text == "the quick brown fox" and stt.accuracy is not None and stt.accuracy.wer == 0
    assert (
        stt.cost_usd == Decimal("0.006") * Decimal(str(audio.seconds)) / 60 and stt.cost_source == "override"
    )
    assert local.ok
    upload = next(r for r in reversed(scripted.requests) if r["path"].endswith("/v1/audio/transcriptions"))
    assert upload["headers"]["authorization"] == "Bearer sk-scripted-speech-0000"
    assert upload["body"]["model"] == "scripted-stt" and upload["body"]["response_format"] == "json"
    assert upload["body"]["file"]["filename"] == "s1.wav" and upload["body"]["file"]["size"] == len(
        sample.wav
    )
    assert upload["body"]["file"]["head"] == sample.wav[:16].hex()

    text = "Hello from a scripted voice."
    [tts] = speak_compare(text, ["scripted-tts"], specs=specs, payer=payer)
    assert tts.ok and tts.speech is not None and tts.speech.sample_rate == 24_000
    assert abs(tts.audio_seconds - 1.5) < 1e-6 and tts.cost_per_1k_chars == Decimal("0.015")
    assert tts.cost_usd == Decimal("0.015") * len(text) / 1000
    spoken = next(r for r in reversed(scripted.requests) if r["path"].endswith("/v1/audio/speech"))
    assert spoken["body"] == {
        "model": "scripted-tts",
        "voice": "alloy",
        "input": text,
        "response_format": "wav",
    }

    store.writer.flush(5)
    from datetime import UTC, datetime, timedelta

    runs = {stt.run_id, tts.run_id}  # each comparison is kept as a run, and its ledger rows name it
    assert len(runs) == 2 and None not in runs and local.run_id == stt.run_id
    rows = [r for r in store.usage_since(datetime.now(UTC) - timedelta(hours=1)) if r.ref_id in runs]
    # two transcriptions, one reading, and the bundled listener's round trip of it: every call that
    # reached a model, local ones as `local` (never $0)
    assert sorted((r.kind, r.model, r.cost_source) for r in rows) == [
        ("speech", "scripted-stt", "override"),
        ("speech", "scripted-tts", "override"),
        ("speech", "whisper-tiny-en", "local"),
        ("speech", "whisper-tiny-en", "local"),
    ]
    assert all(r.cost_usd is None for r in rows if r.cost_source == "local")

    # Both comparisons are kept in History, with their files; the scores are computed again from the texts.
    from playground.speech import KeptReading, KeptTranscription, kept_speech

    run = store.get_run(stt.run_id)
    assert run is not None and run.kind == "speech-to-text" and run.prompt == "s1.wav"
    kept = kept_speech(run, store.media_of(run.id))
    assert isinstance(kept, KeptTranscription) and kept.audio is not None
    assert (kept.audio.data, kept.audio.mime, kept.reference) == (
        sample.wav,
        "audio/x-wav",
        "The quick brown fox",
    )
    assert [(r.model, r.text, r.accuracy, r.rtf, r.cost_usd) for r in kept.results] == [
        (r.model, r.text, r.accuracy, r.rtf, r.cost_usd) for r in (stt, local)
    ]
    run = store.get_run(tts.run_id)
    assert run is not None and run.kind == "text-to-speech" and run.prompt == text
    kept = kept_speech(run, store.media_of(run.id))
    assert isinstance(kept, KeptReading) and kept.listener == "whisper-tiny-en"
    [voice] = kept.results
    assert voice.speech == tts.speech and voice.heard == tts.heard is not None
    assert (voice.intelligibility, voice.rtf, voice.cost_per_1k_chars) == (
        tts.intelligibility,
        tts.rtf,
        tts.cost_per_1k_chars,
    )


def test_hosted_prices_come_from_genai_prices_or_are_unknown_never_zero():
    from playground.engine.pricing import speech_cost_of, speech_price_for

    specs = load_specs()
    assert str(speech_price_for(specs["whisper-1"])) == "$0.006 / audio minute"
    assert str(speech_price_for(specs["tts-1"])) == "$0.015 / 1,000 characters"
    assert speech_cost_of(specs["whisper-1"], audio_seconds=30)[0] == Decimal("0.003")
    assert speech_cost_of(specs["gpt-4o-mini-transcribe"], audio_seconds=30) == (None, "unknown")
    assert speech_cost_of(specs["piper-joe"], characters=100) == (None, "local")


def test_wrong_models_are_refused_before_anything_runs():
    audio = read_audio(load_samples()[0].wav, "s1.wav")
    with pytest.raises(SpeechError, match="piper-joe is a text-to-speech model, not a speech-to-text one"):
        transcribe_compare(audio, ["piper-joe"])
    with pytest.raises(SpeechError, match="unknown model 'nope'"):
        speak_compare("hello", ["nope"])
    with pytest.raises(SpeechError, match="the text is empty"):
        speak_compare("   ", ["piper-joe"])


runner = CliRunner()


def test_cli_transcribe_and_speak_end_to_end(tmp_path):
    sample = load_samples()[1]
    path = tmp_path / sample.name
    path.write_bytes(sample.wav)
    result = runner.invoke(
        app, ["transcribe", str(path), "-m", "whisper-tiny-en", "--reference", sample.sentence, "--json"]
    )
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert (
        line["model"] == "whisper-tiny-en"
        and line["wer"] <= MAX_SAMPLES_WER
        and line["cost_source"] == "local"
    )

    result = runner.invoke(app, ["transcribe", str(path), "-m", "whisper-tiny-en"])
    assert result.exit_code == 0 and "RTF" in result.stdout and "umbrella" in result.stdout

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    result = runner.invoke(app, ["transcribe", str(empty), "-m", "whisper-tiny-en"])
    assert result.exit_code == 2 and result.stderr.strip() == "error: empty.wav is empty (0 bytes)"

    out_dir = tmp_path / "voices"
    result = runner.invoke(
        app, ["speak", "A good cup of coffee.", "-m", "piper-joe", "--out", str(out_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert (
        line["file"] == str(out_dir / "piper-joe.wav")
        and (out_dir / "piper-joe.wav").stat().st_size == line["wav_bytes"]
    )
    assert line["round_trip_wer"] <= MAX_ROUND_TRIP_WER and line["sample_rate"] == 22_050

    result = runner.invoke(app, ["speak", "Hello", "-m", "whisper-tiny-en"])
    assert result.exit_code == 2 and "not a text-to-speech one" in result.stderr


def test_hosted_speech_is_admitted_by_the_gate_charged_to_the_user_and_refused_past_the_budget(scripted):
    from playground.core import HostedPolicy, User
    from playground.core.policy import Limits, day_start
    from playground.engine import Keyring
    from playground.hosting import Gate, LimitExceededError

    alice = User("https://id.example|alice", "Alice", "alice@example.com")
    keys = Keyring(server={"ADMIN_KEY": "server-secret"}, hosted=True)
    gate = Gate(HostedPolicy(enabled=True, limits=Limits(daily_usd=Decimal("0.05"))))
    stt = ModelSpec(
        key="paid-stt",
        provider="openai",
        model="whisper-1",
        task="speech-to-text",
        base_url=scripted.url("audio~text=hello~id=paid"),
        api_key_env="ADMIN_KEY",
        price_per_audio_minute=Decimal("0.5"),  # a few seconds cost a visible amount
    )
    specs = {**load_specs(), stt.key: stt}
    store = Store()
    sample = load_samples()[0]
    audio = read_audio(sample.wav, sample.name)
    payer = SpeechPayer(alice, store, gate, "speech-hosted")
    [first] = transcribe_compare(audio, [stt.key], specs=specs, keys=keys, payer=payer)
    assert first.ok and first.cost_usd == Decimal("0.5") * Decimal(str(audio.seconds)) / 60  # about $0.029
    assert store.spent_since(alice.id, day_start()) == first.cost_usd  # in the ledger, as Alice's
    assert gate.going(alice) == []  # the admission was freed when the comparison ended

    sent = len(scripted.requests)
    with pytest.raises(LimitExceededError, match="PLAYGROUND_USER_DAILY_USD"):
        transcribe_compare(audio, [stt.key], specs=specs, keys=keys, payer=payer)
    assert len(scripted.requests) == sent  # refused before anything was sent

    # Local models need no admission: the bundled voice still reads aloud for Alice past her budget.
    [voice] = speak_compare("Still here.", ["piper-joe"], specs=specs, keys=keys, payer=payer, listener=None)
    assert voice.ok and voice.cost_source == "local" and voice.heard is None


def test_azure_deployments_transcribe_and_speak_through_the_same_adapters(scripted, monkeypatch):
    endpoint = scripted.url("audio~text=hello_azure~id=azure").removesuffix("/v1")
    monkeypatch.setenv("AZ_SPEECH_KEY", "az-secret-0000")
    monkeypatch.setenv("AZ_SPEECH_ENDPOINT", endpoint)
    azure = {"provider": "azure", "api_key_env": "AZ_SPEECH_KEY", "endpoint_env": "AZ_SPEECH_ENDPOINT"}
    specs = {
        "az-stt": ModelSpec(key="az-stt", model="my-whisper", task="speech-to-text", **azure),  # type: ignore[arg-type]
        "az-tts": ModelSpec(key="az-tts", model="my-tts", task="text-to-speech", **azure),  # type: ignore[arg-type]
        "whisper-tiny-en": load_specs()["whisper-tiny-en"],
    }
    sample = load_samples()[0]
    [heard] = transcribe_compare(read_audio(sample.wav, sample.name), ["az-stt"], specs=specs)
    assert (
        heard.ok and heard.text == "hello azure" and heard.cost_source == "unknown" and heard.cost_usd is None
    )
    [spoken] = speak_compare("Hello.", ["az-tts"], specs=specs, listener=None)
    assert spoken.ok and spoken.speech is not None and spoken.speech.sample_rate == 24_000
    paths = [r["path"] for r in scripted.requests if "/openai/deployments/" in r["path"]]
    assert any("/openai/deployments/my-whisper/audio/transcriptions?api-version=" in p for p in paths)
    assert any("/openai/deployments/my-tts/audio/speech?api-version=" in p for p in paths)
    mine = ("/openai/deployments/my-whisper/", "/openai/deployments/my-tts/")  # not other tests' calls
    azure_calls = [
        r
        for r in scripted.requests
        if r["path"].startswith(tuple(f"/audio~text=hello_azure~id=azure{m}" for m in mine))
    ]
    assert {r["headers"].get("api-key") for r in azure_calls} == {"az-secret-0000"}


def test_a_labelled_set_is_evaluated_with_intervals_and_a_failing_model_names_its_files(
    scripted, monkeypatch, tmp_path
):
    from playground.speech import evaluate_transcribers, read_set, shipped_set

    monkeypatch.setenv(KEY_ENV, "sk-scripted-speech-0000")
    specs = {**load_specs(), "broken": hosted(scripted, "broken", "speech-to-text", "status~code=500")}
    items = shipped_set()
    result = evaluate_transcribers(items, ["whisper-tiny-en", "broken"], specs=specs)
    local, broken = result.summaries
    assert local.wer is not None and local.wer.n == len(items) and local.wer.mean <= MAX_SAMPLES_WER
    assert local.wer.low is not None and local.wer.low <= local.wer.mean <= local.wer.high
    assert local.cost_source == "local" and local.cost_usd is None and local.failed == ()
    assert broken.wer is None and broken.failed == tuple(i.audio.name for i in items)
    assert [len(row) for row in result.transcripts] == [2] * len(items)
    assert result.table_rows()[0]["cost (USD)"] == "local"

    # A set of one's own: a CSV beside its files; a file outside its folder is refused, naming the line.
    sample = load_samples()[2]
    (tmp_path / "a.wav").write_bytes(sample.wav)
    table = tmp_path / "set.csv"
    table.write_text(f"file,reference\na.wav,{sample.sentence}\n")
    [item] = read_set(table)
    assert item.reference == sample.sentence and item.audio.name == "a.wav"
    table.write_text("file,reference\n../outside.wav,x\n")
    with pytest.raises(SpeechError, match=r"set\.csv, line 2: \.\./outside\.wav is outside the set's folder"):
        read_set(table)
    table.write_text("name,text\na.wav,x\n")
    with pytest.raises(SpeechError, match="needs the columns file and reference"):
        read_set(table)

    cli = runner.invoke(app, ["transcribe-eval", "-m", "whisper-tiny-en", "--json"])
    assert cli.exit_code == 0, cli.output
    [line] = [json.loads(x) for x in cli.stdout.splitlines()]
    assert line["wer"]["n"] == len(items) and line["failed"] == []


def test_view_code_for_speech_runs_as_shown_local_and_hosted(scripted, tmp_path):
    from playground.speech import code_for
    from tests.test_snippets import run_python

    specs = load_specs()
    sample = load_samples()[3]
    (tmp_path / "my recording.wav").write_bytes(sample.wav)
    heard = run_python(code_for(specs["whisper-tiny-en"], "my recording.wav"), tmp_path)
    assert sample.sentence.split()[1].lower() in heard.lower()  # the bundled model, offline, as in the app
    run_python(code_for(specs["piper-joe"], "A short line."), tmp_path)
    assert (tmp_path / "speech.wav").read_bytes()[:4] == b"RIFF"

    env = {KEY_ENV: "sk-snippet-speech-0000"}
    stt = hosted(scripted, "hosted-stt", "speech-to-text", "audio~text=as_the_server_heard_it")
    code = code_for(stt, "my recording.wav")
    assert "sk-snippet" not in code and KEY_ENV in code
    assert run_python(code, tmp_path, env).strip() == "as the server heard it"
    (tmp_path / "speech.wav").unlink()
    run_python(code_for(hosted(scripted, "hosted-tts", "text-to-speech", "audio"), "Hello."), tmp_path, env)
    assert (tmp_path / "speech.wav").read_bytes()[:4] == b"RIFF"
    sent = [r for r in scripted.requests if "/audio/" in r["path"]][-2:]
    assert all(r["headers"].get("authorization") == "Bearer sk-snippet-speech-0000" for r in sent)
