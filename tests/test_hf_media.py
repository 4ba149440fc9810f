"""Hugging Face speech and image models, on real parts: huggingface_hub's InferenceClient (its URL-model
requests: raw audio bytes for speech-to-text, `{"inputs": ...}` for speech and pictures, chat completions
with image_url parts for vision) against the scripted server's HF Inference API shapes, through the speech
and images services; the error kinds, the key's one destination, the hosted egress guard, and View code."""

from __future__ import annotations

import hashlib
import io
import wave
from decimal import Decimal

import pytest
from PIL import Image

from playground.core import HostedPolicy, User
from playground.core.policy import Limits
from playground.core.specs import ModelSpec, parse_models_text
from playground.engine import Keyring
from playground.engine.registry import call_target
from playground.hosting import Gate
from playground.images import describe_compare, paint_compare, read_image
from playground.speech import (
    SpeechPayer,
    code_for,
    load_samples,
    read_audio,
    speak_compare,
    transcribe_compare,
)
from playground.storage.runs import Store
from providers.base import ChatRequest, Message
from providers.egress import EgressPolicy
from providers.table import adapter_for
from tests.scripted_server import ScriptedServer
from tests.test_egress import TEST_NAME, Lookups, permit_loopback
from tests.test_snippets import run_python

KEY_ENV = "SCRIPTED_HF_TOKEN"
KEY = "hf_scripted_media_0000"


def hf(server: ScriptedServer, key: str, task: str, scenario: str, **fields: object) -> ModelSpec:
    """A Hugging Face model served at a URL of the server's configuration (an Inference Endpoint)."""
    return ModelSpec(
        key=key,
        provider="huggingface",
        model=key,
        task=task,
        base_url=server.url(scenario),
        api_key_env=KEY_ENV,
        **fields,
    )


def sent_to(server: ScriptedServer, scenario: str) -> list[dict]:
    return [r for r in server.requests if r["path"].startswith(f"/{scenario}/")]


def test_speech_to_text_posts_the_file_byte_for_byte_and_is_scored_unpriced_or_priced(scripted, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    specs = {
        "hf-stt": hf(scripted, "hf-stt", "speech-to-text", "hfasr~text=the_quick_brown_fox~id=stt"),
        "hf-stt-priced": hf(
            scripted,
            "hf-stt-priced",
            "speech-to-text",
            "hfasr~text=the_quick_brown_cat~id=priced",
            price_per_audio_minute=Decimal("0.01"),
        ),
    }
    sample = load_samples()[0]
    audio = read_audio(sample.wav, sample.name)
    plain, priced = transcribe_compare(audio, list(specs), "The quick brown fox.", specs=specs)
    assert plain.ok and plain.text == "the quick brown fox", plain.error
    assert plain.accuracy is not None and plain.accuracy.wer == 0 and plain.accuracy.cer == 0
    # genai-prices has no per-minute figure of Hugging Face's: unknown, never $0
    assert plain.cost_usd is None and plain.cost_source == "unknown"
    assert priced.ok and priced.accuracy is not None and priced.accuracy.wer == 0.25  # 1 word in 4
    assert priced.cost_usd == Decimal("0.01") * Decimal(str(audio.seconds)) / 60
    assert priced.cost_source == "override"
    assert plain.rtf is not None and plain.rtf > 0
    [upload] = sent_to(scripted, "hfasr~text=the_quick_brown_fox~id=stt")
    assert upload["path"].endswith("/v1")  # a URL model: the request goes to the URL itself
    assert upload["headers"]["authorization"] == f"Bearer {KEY}"
    assert upload["body"]["raw"]["size"] == len(sample.wav)
    assert upload["body"]["raw"]["sha256"] == hashlib.sha256(sample.wav).hexdigest()


def test_text_to_speech_answers_flac_or_wav_and_each_becomes_a_whole_wav(scripted, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    specs = {
        "flac-voice": hf(
            scripted,
            "flac-voice",
            "text-to-speech",
            "hftts~seconds=1.5~rate=22050",
            price_per_1k_chars=Decimal("0.02"),
        ),
        "wav-voice": hf(scripted, "wav-voice", "text-to-speech", "hftts~seconds=0.75~rate=24000~format=wav"),
    }
    text = "Hello from a scripted voice."
    flac, wav = speak_compare(text, list(specs), specs=specs, listener=None)
    for result, rate, seconds in ((flac, 22_050, 1.5), (wav, 24_000, 0.75)):
        assert result.ok and result.speech is not None, result.error
        with wave.open(io.BytesIO(result.speech.wav)) as reader:
            assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, rate)
            assert reader.getnframes() == round(seconds * rate)
        assert result.speech.sample_rate == rate and abs(result.audio_seconds - seconds) < 1e-9
        assert result.rtf is not None and result.characters == len(text)
    assert flac.cost_usd == Decimal("0.02") * len(text) / 1000 and flac.cost_per_1k_chars == Decimal("0.02")
    assert wav.cost_usd is None and wav.cost_source == "unknown"
    [spoken] = sent_to(scripted, "hftts~seconds=1.5~rate=22050")
    assert spoken["body"] == {"inputs": text, "parameters": {}}
    assert spoken["headers"]["content-type"] == "application/json"


def test_text_to_image_asks_for_the_size_and_keeps_a_png_checked_by_pillow(scripted, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    specs = {
        "hf-painter": hf(scripted, "hf-painter", "text-to-image", "hfimage~id=paint"),
        "hf-priced": hf(
            scripted, "hf-priced", "text-to-image", "hfimage~id=priced", price_per_image=Decimal("0.003")
        ),
    }
    [picture] = paint_compare("a red fox", ["hf-painter"], "320x200", specs=specs)
    assert picture.ok and picture.picture is not None, picture.error
    assert (picture.picture.mime, picture.picture.width, picture.picture.height) == ("image/png", 320, 200)
    with Image.open(io.BytesIO(picture.picture.data)) as image:
        assert (image.format, image.size) == ("PNG", (320, 200))
    assert picture.cost_usd is None and picture.cost_source == "unknown"
    [asked] = sent_to(scripted, "hfimage~id=paint")
    assert asked["body"] == {"inputs": "a red fox", "parameters": {"height": 200, "width": 320}}
    assert asked["headers"]["Accept"] == "image/png"  # as huggingface_hub asks for a picture
    [priced] = paint_compare("a red fox", ["hf-priced"], specs=specs)
    assert priced.picture is not None and (priced.picture.width, priced.picture.height) == (1024, 1024)
    assert priced.cost_usd == Decimal("0.003") and priced.cost_source == "override"


def test_vision_chat_sends_the_image_as_an_image_url_part(scripted, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    spec = hf(scripted, "hf-seer", "chat", "vision~report_in=900~id=hfseer", accepts_images=True)
    assert spec.sees_images
    [answer] = describe_compare(
        read_image(_png(64, 48), "cat.png"), "What size is it?", ["hf-seer"], specs={"hf-seer": spec}
    )
    assert answer.ok and answer.text.strip() == "image 64x48", answer.error  # the server decoded our image
    assert answer.input_tokens == 900 and answer.usage_source == "reported"
    [sent] = sent_to(scripted, "vision~report_in=900~id=hfseer")
    assert sent["path"].endswith("/v1/chat/completions")
    content = sent["body"]["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "What size is it?"}
    assert content[1]["type"] == "image_url" and content[1]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )
    # A models file may say so for a Hugging Face chat model now, as for OpenAI's.
    parsed = parse_models_text(
        '[models.v]\nprovider = "huggingface"\nmodel = "Qwen/Qwen2.5-VL-7B-Instruct"\naccepts_images = true\n',
        "f",
    )
    assert parsed["v"].sees_images


def test_server_errors_and_corrupt_answers_give_one_clear_error_while_the_others_answer(
    scripted, monkeypatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    specs = {
        "loading": hf(scripted, "loading", "speech-to-text", "hfasr~fail=503"),
        "refused": hf(scripted, "refused", "speech-to-text", "hfasr~fail=401"),
        "fine": hf(scripted, "fine", "speech-to-text", "hfasr~text=still_here"),
        "garbled": hf(scripted, "garbled", "text-to-speech", "hftts~corrupt=1"),
        "voice": hf(scripted, "voice", "text-to-speech", "hftts"),
        "smudger": hf(scripted, "smudger", "text-to-image", "hfimage~corrupt=1"),
        "painter": hf(scripted, "painter", "text-to-image", "hfimage"),
    }
    sample = load_samples()[0]
    loading, refused, fine = transcribe_compare(
        read_audio(sample.wav, sample.name), ["loading", "refused", "fine"], specs=specs
    )
    assert loading.error is not None and loading.error.kind == "server_error"
    assert "Model is currently loading" in loading.error.message  # a configured URL's body is shown
    assert refused.error is not None and refused.error.kind == "auth" and KEY not in refused.error.message
    assert fine.ok and fine.text == "still here"

    garbled, voice = speak_compare("Hello.", ["garbled", "voice"], specs=specs, listener=None)
    assert garbled.error is not None and garbled.error.kind == "bad_audio" and garbled.speech is None
    assert garbled.error.message.startswith("garbled's speech could not be read as audio")
    assert voice.ok and voice.speech is not None and voice.speech.wav[:4] == b"RIFF"

    smudger, painter = paint_compare("a fox", ["smudger", "painter"], "64x64", specs=specs)
    assert smudger.error is not None and smudger.error.kind == "bad_image"
    assert smudger.error.message == "smudger's picture could not be read as an image"
    assert painter.ok and painter.picture is not None and painter.picture.width == 64


def test_the_servers_key_goes_only_to_the_configured_url(scripted):
    keys = Keyring(server={KEY_ENV: KEY})
    configured = hf(scripted, "configured", "speech-to-text", "hfasr~text=ok~id=configured")
    typed = ModelSpec(  # the same server, as a visitor typed it in Settings
        key="typed",
        provider="huggingface",
        model="typed",
        task="speech-to-text",
        base_url=scripted.url("hfasr~text=ok~id=typed"),
        api_key_env=KEY_ENV,
        source="session",
    )
    sample = load_samples()[0]
    mine, theirs = transcribe_compare(
        read_audio(sample.wav, sample.name),
        ["configured", "typed"],
        specs={"configured": configured, "typed": typed},
        keys=keys,
    )
    assert mine.ok and theirs.ok
    [to_configured] = sent_to(scripted, "hfasr~text=ok~id=configured")
    [to_typed] = sent_to(scripted, "hfasr~text=ok~id=typed")
    assert to_configured["headers"]["authorization"] == f"Bearer {KEY}"
    # huggingface_hub always builds the header: it goes out empty, never with the server's token.
    assert KEY not in str(to_typed["headers"]) and to_typed["headers"].get("authorization", "") == ""


@pytest.mark.parametrize("task", ["speech-to-text", "text-to-speech", "text-to-image"])
def test_hosted_a_private_url_a_user_typed_is_refused_before_any_request(task):
    alice = User("https://id.example|alice", "Alice", "alice@example.com")
    keys = Keyring(
        visitor={"HF_VISITOR": "hf_visitor_key"}, egress=EgressPolicy(frozenset({"*"})), hosted=True
    )
    gate = Gate(HostedPolicy(enabled=True, limits=Limits(daily_usd=Decimal("5"))))
    price = {
        "speech-to-text": {"price_per_audio_minute": Decimal("0.01")},
        "text-to-speech": {"price_per_1k_chars": Decimal("0.01")},
        "text-to-image": {"price_per_image": Decimal("0.01")},
    }[task]
    with ScriptedServer() as server:
        spec = ModelSpec(
            key="mine",
            provider="huggingface",
            model="mine",
            task=task,
            base_url=server.url("hfasr"),  # 127.0.0.1: a loopback address
            api_key_env="HF_VISITOR",
            source="session",
            **price,
        )
        specs = {"mine": spec}
        payer = SpeechPayer(alice, Store(), gate, "hf-egress")
        if task == "speech-to-text":
            sample = load_samples()[0]
            audio = read_audio(sample.wav, sample.name)
            [result] = transcribe_compare(audio, ["mine"], specs=specs, keys=keys, payer=payer)
        elif task == "text-to-speech":
            [result] = speak_compare("Hello.", ["mine"], specs=specs, keys=keys, payer=payer, listener=None)
        else:
            from playground.images import ImagePayer

            image_payer = ImagePayer(alice, Store(), gate, "hf-egress")
            [result] = paint_compare("a fox", ["mine"], specs=specs, keys=keys, payer=image_payer)
        assert server.requests == []
    assert result.error is not None and result.error.kind == "egress_refused"
    assert "loopback" in result.error.message


def test_an_allowed_user_url_is_called_through_the_guarded_client_for_every_task():
    # TEST_NAME resolves nowhere on this machine: an answer proves each request went through the guarded
    # client (which vets the address and connects to it), raw audio bytes and the Accept header included.
    from providers.huggingface_media import HuggingFacePainter, HuggingFaceSpeaker, HuggingFaceTranscriber

    lookups = Lookups()
    policy = EgressPolicy(frozenset({TEST_NAME}), address_rule=permit_loopback, resolver=lookups)
    with ScriptedServer() as server:
        base = f"http://{TEST_NAME}:{server.port}"
        options = {"model": "m", "api_key": KEY, "egress": policy, "visitor_url": True}
        heard = HuggingFaceTranscriber(base_url=f"{base}/hfasr~text=through_the_guard/v1", **options)
        heard.prepare()
        assert heard.transcribe(b"RIFF some audio bytes", "a.wav").text == "through the guard"
        speech = HuggingFaceSpeaker(base_url=f"{base}/hftts~seconds=0.5/v1", **options).speak("Hi.")
        assert speech.sample_rate == 16_000 and abs(speech.seconds - 0.5) < 1e-9
        picture = HuggingFacePainter(base_url=f"{base}/hfimage/v1", **options).paint("a fox", "40x30")
        assert (picture.width, picture.height) == (40, 30)
        upload, spoken, painted = server.requests
    assert upload["body"]["raw"]["size"] == len(b"RIFF some audio bytes")
    assert spoken["body"] == {"inputs": "Hi.", "parameters": {}}
    assert painted["headers"]["Accept"] == "image/png"
    assert lookups.hosts == [(TEST_NAME, server.port)] * 3


def test_hf_speech_is_never_priced_as_a_namesake_of_another_provider():
    from playground.engine.pricing import image_cost_of, speech_cost_of

    openai_whisper = ModelSpec(
        key="w", provider="openai", model="whisper-1", task="speech-to-text", api_key_env="K"
    )
    hf_whisper = ModelSpec(
        key="w", provider="huggingface", model="whisper-1", task="speech-to-text", api_key_env="K"
    )
    assert speech_cost_of(openai_whisper, audio_seconds=60)[0] is not None  # genai-prices has OpenAI's
    assert speech_cost_of(hf_whisper, audio_seconds=60) == (None, "unknown")
    hf_voice = ModelSpec(
        key="v", provider="huggingface", model="tts-1", task="text-to-speech", api_key_env="K"
    )
    assert speech_cost_of(hf_voice, characters=1000) == (None, "unknown")
    hf_flux = ModelSpec(key="f", provider="huggingface", model="flux", task="text-to-image", api_key_env="K")
    assert image_cost_of(hf_flux, "1024x1024") == (None, "unknown")


def test_view_code_runs_as_shown_against_the_scripted_server(scripted, tmp_path):
    env = {KEY_ENV: "hf_snippet_media_0000"}
    sample = load_samples()[2]
    (tmp_path / "my recording.wav").write_bytes(sample.wav)
    stt = hf(scripted, "snip-stt", "speech-to-text", "hfasr~text=as_the_endpoint_heard_it~id=snip")
    code = code_for(stt, "my recording.wav")
    assert "hf_snippet" not in code and KEY_ENV in code
    assert run_python(code, tmp_path, env).strip() == "as the endpoint heard it"
    [upload] = sent_to(scripted, "hfasr~text=as_the_endpoint_heard_it~id=snip")
    assert upload["body"]["raw"]["sha256"] == hashlib.sha256(sample.wav).hexdigest()

    run_python(code_for(hf(scripted, "snip-tts", "text-to-speech", "hftts~id=snip"), "Hello."), tmp_path, env)
    assert (tmp_path / "speech.flac").read_bytes()[:4] == b"fLaC"  # named by what the server sent

    painter = hf(scripted, "snip-paint", "text-to-image", "hfimage~id=snip")
    request = ChatRequest(messages=(Message("user", "a red fox"),))
    code = adapter_for("huggingface", "text-to-image").snippet(call_target(painter), request).python
    run_python(code, tmp_path, env)
    with Image.open(tmp_path / "picture.png") as image:
        assert image.size == (1024, 1024)
    sent = [r for r in scripted.requests if "id=snip" in r["path"]]
    assert [r["headers"].get("authorization") for r in sent] == ["Bearer hf_snippet_media_0000"] * 3

    # Routed through Inference Providers (no URL): the model is named in each call.
    routed = ModelSpec(
        key="r",
        provider="huggingface",
        model="openai/whisper-large-v3",
        task="speech-to-text",
        hf_provider="hf-inference",
        api_key_env="HF_TOKEN",
    )
    code = code_for(routed, "a.wav")
    assert "provider='hf-inference'" in code and "model='openai/whisper-large-v3'" in code
    compile(code, "snippet", "exec")


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, format="PNG")
    return out.getvalue()
