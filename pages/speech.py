"""Speech: one recording transcribed by several speech-to-text models, or one text read aloud by several
voices, side by side with their figures (seconds, real-time factor, WER/CER or round-trip intelligibility,
cost), on the bundled offline models and hosted ones."""

from __future__ import annotations

import streamlit as st

from pages.common.media import saved_caption, show_speech_code, show_transcripts, show_voices
from pages.common.ui import current_user, gate, keyring, page_shell, shared_store, specs
from playground.core import UsageError, files_uploaded, plain
from playground.engine import usability
from playground.speech import (
    DEFAULT_LISTENER,
    LabelledAudio,
    SpeechError,
    SpeechPayer,
    evaluate_transcribers,
    load_samples,
    parse_set,
    read_audio,
    shipped_set,
    speak_compare,
    transcribe_compare,
)

page_shell("pages/speech.py")

AUDIO_TYPES = ["wav", "mp3", "flac", "ogg", "webm", "m4a"]
SOURCES = ("A shipped sample", "Upload a file", "Record in the browser")
SET_SOURCES = ("The shipped samples", "Upload files and a CSV")
SAMPLE_TEXT = "The quick brown fox jumps over the lazy dog, then naps in the afternoon sun."

all_specs = specs()
keys = keyring()


def choose_models(task: str, label: str, key: str) -> list[str]:
    """A multiselect of the models of `task`; the usable local ones start chosen."""
    options = sorted(k for k, s in all_specs.items() if s.task == task)
    usable = {k: usability(all_specs[k], keys) for k in options}

    def name(k: str) -> str:
        ok, why = usable[k]
        return f"{all_specs[k].provider} · {k}" + ("" if ok else f" — unusable: {why}")

    start = [k for k in options if all_specs[k].is_local and usable[k][0]]
    return st.multiselect(label, options, default=start, format_func=name, key=key)


def payer() -> SpeechPayer:
    """This session's user pays, admitted by the server's gate, in the shared ledger."""
    return SpeechPayer(current_user(), shared_store(), gate())


def audio_input() -> tuple[bytes, str, str] | None:
    """The recording to transcribe (bytes, its name) and what is said in it, if known."""
    source = st.radio("Audio", SOURCES, horizontal=True, key="stt-source")
    if source == SOURCES[0]:
        samples = {s.name: s for s in load_samples()}
        name = st.selectbox(
            "Sample (read by the bundled Piper voice)",
            list(samples),
            format_func=lambda n: f"{n}: {samples[n].sentence}",
            key="stt-sample",
        )
        st.caption("Synthetic speech is clean and evenly paced: it flatters speech-to-text models.")
        return samples[name].wav, name, samples[name].sentence
    if source == SOURCES[1]:
        upload = st.file_uploader("Audio file", type=AUDIO_TYPES, key="stt-upload")
        return (upload.getvalue(), upload.name, "") if upload is not None else None
    recording = st.audio_input("Record", key="stt-record")
    return (recording.getvalue(), "recording.wav", "") if recording is not None else None


def labelled_set() -> list[LabelledAudio] | None:
    """The set to evaluate on: the shipped samples, or uploaded files with a CSV naming what each says
    (None until both are given). SpeechError names a line or file that cannot be used."""
    shipped = st.radio("Set", SET_SOURCES, horizontal=True, key="set-source") == SET_SOURCES[0]
    if shipped:
        st.caption("Six sentences read by the bundled voice: synthetic speech flatters speech-to-text.")
        return shipped_set()
    files = st.file_uploader("Audio files", type=AUDIO_TYPES, accept_multiple_files=True, key="set-files")
    table = st.file_uploader("CSV with columns file and reference", type=["csv"], key="set-csv")
    if not files or table is None:
        return None
    uploaded = files_uploaded({f.name: f.getvalue() for f in files}, SpeechError)
    return parse_set(table.getvalue().decode("utf-8", errors="replace"), uploaded, table.name)


st.title("Speech")
st.caption(
    "Compare speech models on one input. The bundled Whisper tiny.en and Piper voice run offline with no "
    "key; hosted ones need their key (Settings)."
)
listen, speak = st.tabs(["Speech to text", "Text to speech"])

with listen:
    given = audio_input()
    reference = st.text_area(
        "Reference (what is said, optional: gives WER and CER)",
        value=given[2] if given else "",
        key=f"stt-reference-{given[1] if given else ''}",
    )
    chosen = choose_models("speech-to-text", "Speech-to-text models", "stt-models")
    if st.button("Transcribe", type="primary", disabled=not (given and chosen), key="stt-run"):
        try:
            audio = read_audio(given[0], given[1])
            with st.spinner("Transcribing…"):
                results = transcribe_compare(
                    audio, chosen, reference or None, specs=all_specs, keys=keys, payer=payer()
                )
            st.session_state["stt-results"] = (results, reference)
            st.session_state["stt-code"] = (chosen, given[1])
        except UsageError as exc:  # a bad file, an unknown model, a limit: one line, nothing lost
            st.error(plain(str(exc)))
    if "stt-results" in st.session_state:
        results, said = st.session_state["stt-results"]
        saved_caption(results[0].run_id)
        show_transcripts(results, said)
        show_speech_code(*st.session_state["stt-code"])
    with st.expander("Evaluate on a labelled set: WER and CER with 95% intervals"):
        set_models = choose_models("speech-to-text", "Models to evaluate", "set-models")
        try:
            items = labelled_set()
            if st.button("Evaluate", disabled=not (items and set_models), key="set-run") and items:
                with st.spinner(f"Transcribing {len(items)} files with {len(set_models)} models…"):
                    st.session_state["set-results"] = evaluate_transcribers(
                        items, set_models, specs=all_specs, keys=keys, payer=payer()
                    )
        except UsageError as exc:  # a bad line or file, a limit: one line, the page goes on
            st.error(plain(str(exc)))
        if "set-results" in st.session_state:
            st.dataframe(st.session_state["set-results"].table_rows(), hide_index=True, key="set-table")
            st.caption("Means over the files each model answered, with 95% intervals (Student's t); jiwer.")

with speak:
    text = st.text_area("Text to read aloud", value=SAMPLE_TEXT, key="tts-text")
    voices = choose_models("text-to-speech", "Text-to-speech models", "tts-models")
    round_trip = st.checkbox(
        f"Round trip: {DEFAULT_LISTENER} transcribes each voice (WER against the text)", True, key="tts-rt"
    )
    if st.button("Read aloud", type="primary", disabled=not (text.strip() and voices), key="tts-run"):
        try:
            listener = DEFAULT_LISTENER if round_trip else None
            with st.spinner("Reading aloud…"):
                voiced = speak_compare(
                    text, voices, specs=all_specs, keys=keys, payer=payer(), listener=listener
                )
            st.session_state["tts-results"] = (voiced, listener, text)
        except UsageError as exc:
            st.error(plain(str(exc)))
    if "tts-results" in st.session_state:
        voiced, listener, read = st.session_state["tts-results"]
        saved_caption(voiced[0].run_id)
        show_voices(voiced, listener)
        show_speech_code([r.model for r in voiced], read)
