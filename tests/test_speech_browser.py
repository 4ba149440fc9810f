"""The Speech page in real headless chromium, on the bundled models: a file that is not audio (with a
hostile name) gets one plain error and the page goes on; a real upload is transcribed; a voice plays."""

from __future__ import annotations

from pathlib import Path

from playground.speech import load_samples
from tests.test_browser import chromium_page, pytestmark, streamlit_server, streamlit_url  # noqa: F401 - fixtures, marks

SHOTS = Path(__file__).resolve().parent / "artifacts"


def test_speech_page_uploads_a_bad_file_then_a_good_one_and_reads_a_text_aloud(
    streamlit_url: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
):
    from playwright.sync_api import expect

    bad = tmp_path / "**bold** [link](http___x).wav"  # markdown in a name must stay text
    bad.write_bytes(b"RIFF not really a wave file")
    sample = load_samples()[0]
    good = tmp_path / "meeting.wav"
    good.write_bytes(sample.wav)
    with chromium_page(1400) as page:
        page.goto(f"{streamlit_url}/speech")
        expect(page.get_by_role("button", name="Transcribe")).to_be_visible(timeout=60_000)
        page.get_by_text("Upload a file").click()
        chooser = page.locator("input[type='file']")
        chooser.set_input_files(str(bad))
        page.get_by_role("button", name="Transcribe").click()
        error = page.get_by_text("could not be read as audio").or_(page.get_by_text("not audio"))
        expect(error.first).to_be_visible(timeout=60_000)
        body = page.inner_text("body")
        assert "**bold** [link](http___x).wav" in body  # shown as typed, not rendered as markup
        assert page.locator("a[href*='http___x']").count() == 0

        chooser.set_input_files(str(good))
        reference = page.get_by_label("Reference (what is said, optional: gives WER and CER)")
        expect(reference).to_have_count(1, timeout=30_000)  # Streamlit swaps the box for the new file's
        reference.fill(sample.sentence)
        page.get_by_role("button", name="Transcribe").click()
        expect(page.get_by_text("WER").first).to_be_visible(timeout=120_000)
        first_word = sample.sentence.split()[0].strip(",.").lower()
        assert first_word in page.inner_text("body").lower()

        page.get_by_role("tab", name="Text to speech").click()
        page.get_by_role("button", name="Read aloud").click()
        expect(page.locator("audio").first).to_be_attached(timeout=120_000)
        expect(page.get_by_text("Heard as:").first).to_be_visible(timeout=60_000)
        src = page.locator("audio").first.get_attribute("src") or ""
        assert src.startswith(("/media/", "data:", "blob:")) or streamlit_url in src  # served by the app
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "speech.png"), full_page=True)
