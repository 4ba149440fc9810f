"""How speech and image results are drawn: by the Speech and Images pages as they come, and by History and
share links from a kept run. Audio and pictures are always the server's own bytes (no URL is fetched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import streamlit as st

from pages.common.ui import database_answers, render_answer_columns, shared_store, specs
from playground.compare import word_diff_markdown
from playground.core import plain

if TYPE_CHECKING:
    from playground.compare import StoredRun
    from playground.images import PaintResult
    from playground.speech import SpeechResult, TranscriptResult

MEDIA_KINDS = ("speech-to-text", "text-to-speech", "image-to-text", "text-to-image")


def money(value: object, source: str, per: str = "") -> str:
    """A cost with its source: never $0 for a model without a price."""
    if value is None:
        return "local (no price)" if source == "local" else f"cost unknown ({source})"
    return f"${value:.6f}{' ' + per if per else ''} ({source})"


def show_speech_code(models: Sequence[str], given: str) -> None:
    """ "View code": per model, Python repeating its call (keys from environment variables)."""
    from playground.speech import code_for

    known = specs()
    with st.expander("View code"):
        st.caption("Keys are read from environment variables; set them before running a snippet.")
        for key in models:
            st.markdown(f"**{plain(key)}**")
            if key in known:
                st.code(code_for(known[key], given), language="python")
            else:
                st.caption(plain(f"{key} is no longer in the models file."))


def show_transcripts(results: Sequence[TranscriptResult], reference: str) -> None:
    """Each model's transcript with its figures, and its word diff against the reference."""
    from playground.speech import normalised

    for column, result in zip(st.columns(max(len(results), 1)), results, strict=False):
        with column:
            st.markdown(f"**{plain(result.model)}**")
            if not result.ok:
                st.error(plain(str(result.error)))
                continue
            st.text(result.text or "(nothing heard)")
            st.caption(plain(transcript_figures(result)))
            if reference and result.accuracy is not None:
                st.markdown(word_diff_markdown(normalised(reference), normalised(result.text)))
    if reference:
        st.caption("Diff against the reference, both normalised: ~~missed~~, **added** words.")


def transcript_figures(result: TranscriptResult) -> str:
    """One line of a transcript's figures, each with where it comes from."""
    parts = [f"{result.seconds:.2f} s" if result.seconds is not None else "time n/a"]
    if result.rtf is not None:
        parts.append(f"RTF {result.rtf:.3f} (seconds of work per second of audio)")
    if result.accuracy is not None:
        parts.append(f"WER {result.accuracy.wer:.1%} · CER {result.accuracy.cer:.1%} (jiwer)")
    parts.append(money(result.cost_usd, result.cost_source))
    return " · ".join(parts)


def show_voices(results: Sequence[SpeechResult], listener: str | None) -> None:
    """Each voice with a player, its figures, and what the bundled listener heard."""
    for column, result in zip(st.columns(max(len(results), 1)), results, strict=False):
        with column:
            st.markdown(f"**{plain(result.model)}**")
            if not result.ok or result.speech is None:
                st.error(plain(str(result.error or "no speech was kept")))
                continue
            st.audio(result.speech.wav, format="audio/wav")  # bytes the server holds: no URL is fetched
            st.caption(plain(voice_figures(result, listener)))
            if result.heard is not None:
                st.text(f"Heard as: {result.heard}")


def voice_figures(result: SpeechResult, listener: str | None) -> str:
    """One line of a voice's figures, each with where it comes from."""
    parts = [f"{result.seconds:.2f} s for {result.audio_seconds:.1f} s of audio"]
    if result.rtf is not None:
        parts.append(f"RTF {result.rtf:.3f}")
    if result.intelligibility is not None:
        parts.append(f"round-trip WER {result.intelligibility.wer:.1%} ({listener}, jiwer)")
    parts.append(money(result.cost_per_1k_chars, result.cost_source, "per 1,000 characters"))
    return " · ".join(parts)


def show_pictures(results: Sequence[PaintResult]) -> None:
    """Each model's picture (bytes the server holds: no model-given URL is ever fetched) and figures."""
    for column, result in zip(st.columns(max(len(results), 1)), results, strict=False):
        with column:
            st.markdown(f"**{plain(result.model)}**")
            if not result.ok or result.picture is None:
                st.error(plain(str(result.error or "no picture was kept")))
                continue
            st.image(result.picture.data, caption=f"{result.picture.width}x{result.picture.height}")
            cost = (
                f"${result.cost_usd:.4f} per image ({result.cost_source})"
                if result.cost_usd is not None
                else f"cost {result.cost_source}"
            )
            seconds = f"{result.seconds:.2f} s" if result.seconds is not None else "time n/a"
            st.caption(plain(f"{seconds} · {cost}"))


def saved_caption(run_id: str | None) -> None:
    """Where a speech or image comparison was kept (None: it was not)."""
    if run_id is not None:
        st.caption(f"Saved in History · share link: `?run={run_id}`")


def render_kept(run: StoredRun) -> None:
    """A kept speech or image comparison, as History and share links open it: what it was given, then
    each model's result with its figures, from the server's own bytes."""
    from playground.images import KeptPainting, KeptQuestion, kept_images
    from playground.speech import KeptReading, KeptTranscription, kept_speech

    with database_answers():
        files = shared_store().media_of(run.id)
    if note := run.state_note():
        st.warning(plain(note))
    kept = kept_speech(run, files) or kept_images(run, files)
    st.caption(plain(f"{run.kind} · share link: ?run={run.id}"))
    if isinstance(kept, KeptTranscription):
        st.markdown(f"**Audio:** {plain(run.prompt)}")
        if kept.audio is not None:
            st.audio(kept.audio.data, format=kept.audio.mime)
        else:
            st.caption("The audio itself was not kept (files over 25 MB are not).")
        if kept.reference:
            st.markdown(f"**Reference:** {plain(kept.reference)}")
        show_transcripts(kept.results, kept.reference)
        show_speech_code(run.models, run.prompt)
    elif isinstance(kept, KeptReading):
        st.markdown(f"**Text:** {plain(kept.text)}")
        show_voices(kept.results, kept.listener)
        show_speech_code(run.models, kept.text)
    elif isinstance(kept, KeptQuestion):
        if kept.image is not None:
            st.image(kept.image.data, width=320, caption=plain(kept.image.name))
        else:
            st.caption("The image itself was not kept (files over 25 MB are not).")
        st.markdown(f"**Prompt:** {plain(kept.prompt)}")
        render_answer_columns(run.models, kept.results)
    elif isinstance(kept, KeptPainting):
        st.markdown(f"**Prompt:** {plain(kept.prompt)} ({plain(kept.size)})")
        show_pictures(kept.results)
