"""The Speech page through AppTest, on the bundled models: a shipped sample transcribed with its WER and
word diff, a text read aloud with a player and the round trip, and a hosted model failing beside them."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground.core.specs import ModelSpec
from tests.conftest import closed_port_url

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def speech_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/speech.py").run()
    assert not at.exception, at.exception
    return at


def test_a_shipped_sample_is_transcribed_with_its_error_rates_and_a_word_diff():
    at = speech_page()
    assert at.multiselect(key="stt-models").value == ["whisper-tiny-en"]  # the bundled model, chosen
    reference = at.text_area(key=next(t.key for t in at.text_area if t.key.startswith("stt-reference")))
    assert reference.value  # the sample's own sentence
    at.button(key="stt-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    captions = " ".join(c.value for c in at.caption)
    assert "RTF" in captions and "WER" in captions and "CER" in captions and "local (no price)" in captions
    assert any(reference.value.split()[0].lower() in t.value.lower() for t in at.text)  # the transcript
    # Kept in History: it opens there with the audio it was given, the transcript and the same figures.
    wer, said = next(c.value for c in at.caption if "WER" in c.value), reference.value.split()[0].lower()
    at.switch_page("pages/history.py").run()
    assert not at.exception, at.exception
    assert len(at.get("audio")) == 1 and any(wer.split(" · ", 1)[1] in c.value for c in at.caption)
    assert any(said in t.value.lower() for t in at.text)


def test_a_text_is_read_aloud_with_a_player_and_heard_back_and_a_failing_voice_beside_it():
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["custom_specs"] = {
        "dead-voice": ModelSpec(
            key="dead-voice",
            provider="openai",
            model="tts-1",
            task="text-to-speech",
            base_url=closed_port_url(),
            source="session",
        )
    }
    at.run()
    at.switch_page("pages/speech.py").run()
    at.multiselect(key="tts-models").set_value(["piper-joe", "dead-voice"]).run()
    at.text_area(key="tts-text").input("Seven green apples fell from the old tree.").run()
    at.button(key="tts-run").click().run()
    assert not at.exception, at.exception
    assert len(at.get("audio")) == 1  # the bundled voice's player
    heard = [t.value for t in at.text if t.value.startswith("Heard as:")]
    assert heard and "apples" in heard[0].lower()
    assert "round-trip WER" in " ".join(c.value for c in at.caption)
    # Only the unreachable voice failed, in its own column, with its reason.
    assert [e.value.split(":")[0] for e in at.error] == ["connection"]


def test_the_shipped_set_is_evaluated_into_a_table_with_intervals():
    at = speech_page()
    assert at.multiselect(key="set-models").value == ["whisper-tiny-en"]
    at.button(key="set-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [table] = at.dataframe
    row = table.value.iloc[0]
    assert row["model"] == "whisper-tiny-en" and row["cost (USD)"] == "local" and row["failed"] == "none"
    assert row["WER"].endswith("%)") or row["WER"].endswith("%")  # a mean, with its interval when n > 1
