"""Images: one picture asked about by several vision models, or one prompt painted by several
text-to-image models, side by side with their figures (seconds, tokens, cost per image). No local image
model is bundled: these are hosted models (their keys in Settings, or the server's)."""

from __future__ import annotations

import streamlit as st

from pages.common.media import saved_caption, show_pictures
from pages.common.ui import (
    current_user,
    gate,
    keyring,
    page_shell,
    render_answer_columns,
    shared_store,
    specs,
)
from playground.core import UsageError, files_uploaded, plain
from playground.engine import usability
from playground.evals import (
    METRICS,
    LabelledImage,
    MetricChoice,
    evaluate_describers,
    parse_image_set,
    shipped_image_set,
)
from playground.images import (
    DEFAULT_SIZE,
    ImageFile,
    ImagePayer,
    ImagesError,
    describe_compare,
    paint_compare,
    read_image,
    sample_card,
)

page_shell("pages/images.py")

IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "gif"]
SOURCES = ("A test card (drawn here)", "Upload an image")
SET_SOURCES = ("The shipped cards", "Upload images and a CSV")

all_specs = specs()
keys = keyring()


def choose_models(fits: str, label: str, key: str) -> list[str]:
    """A multiselect of the models that see images ("see") or paint ("paint"); none start chosen (each
    costs money)."""
    options = sorted(
        k for k, s in all_specs.items() if (s.sees_images if fits == "see" else s.task == "text-to-image")
    )
    usable = {k: usability(all_specs[k], keys) for k in options}

    def name(k: str) -> str:
        ok, why = usable[k]
        return f"{all_specs[k].provider} · {k}" + ("" if ok else f" — unusable: {why}")

    return st.multiselect(label, options, format_func=name, key=key)


def payer() -> ImagePayer:
    """This session's user pays, admitted by the server's gate, in the shared ledger."""
    return ImagePayer(current_user(), shared_store(), gate())


def image_input() -> ImageFile | None:
    """The picture to ask about: the test card, or an upload (checked: ImageFileError names it)."""
    if st.radio("Image", SOURCES, horizontal=True, key="see-source") == SOURCES[0]:
        return sample_card()
    upload = st.file_uploader("Image file", type=IMAGE_TYPES, key="see-upload")
    return read_image(upload.getvalue(), upload.name) if upload is not None else None


def labelled_images() -> list[LabelledImage] | None:
    """The set to evaluate on: the shipped cards, or uploaded images with a CSV naming what to ask of each
    and the answer expected (None until both are given). ImagesError names a line or file."""
    if st.radio("Set", SET_SOURCES, horizontal=True, key="see-set-source") == SET_SOURCES[0]:
        st.caption("Six cards drawn here: three coloured squares to name, and one to three circles to count.")
        return shipped_image_set()
    files = st.file_uploader("Images", type=IMAGE_TYPES, accept_multiple_files=True, key="see-set-files")
    table = st.file_uploader("CSV with columns file, prompt and reference", type=["csv"], key="see-set-csv")
    if not files or table is None:
        return None
    uploaded = files_uploaded({f.name: f.getvalue() for f in files}, ImagesError)
    return parse_image_set(table.getvalue().decode("utf-8", errors="replace"), uploaded, table.name)


def evaluate_on_a_set() -> None:
    """Every image of a labelled set asked of the chosen models, scored by one metric: a table of means
    with 95% intervals, seconds, tokens and cost."""
    models = choose_models("see", "Models to evaluate", "see-set-models")
    metrics = [name for name, m in METRICS.items() if m.needs_expected]
    metric = st.selectbox("Metric", metrics, index=metrics.index("contains"), key="see-set-metric")
    try:
        items = labelled_images()
        if st.button("Evaluate", disabled=not (items and models), key="see-set-run") and items:
            with st.spinner(f"Asking about {len(items)} images with {len(models)} models…"):
                st.session_state["see-set-results"] = evaluate_describers(
                    items, models, MetricChoice(metric), specs=all_specs, keys=keys, payer=payer()
                )
    except (UsageError, ValueError) as exc:  # a bad line or file, a limit, a metric: one line
        st.error(plain(str(exc)))
    if "see-set-results" in st.session_state:
        st.dataframe(st.session_state["see-set-results"].table_rows(), hide_index=True, key="see-set-table")
        st.caption(
            "Means over the images each model answered, with 95% intervals (Wilson for pass/fail metrics, "
            "Student's t for graded ones); seconds are each answer's total."
        )


st.title("Images")
st.caption(
    "Compare image models on one input. No local image model is bundled (none fits the install budget): "
    "choose hosted ones; their calls are admitted under your limits and charged like any other."
)
see, paint = st.tabs(["Image to text", "Text to image"])

with see:
    try:
        picture = image_input()
    except UsageError as exc:  # empty, corrupt, too large: one line naming the file
        st.error(plain(str(exc)))
        picture = None
    if picture is not None:
        st.image(picture.data, width=320, caption=plain(f"{picture.name}: {picture.width}x{picture.height}"))
    question = st.text_area("Prompt", value="What shapes and colours are in this picture?", key="see-prompt")
    seers = choose_models("see", "Models that see images", "see-models")
    if st.button("Ask", type="primary", disabled=not (picture and question.strip() and seers), key="see-run"):
        try:
            with st.spinner("Asking…"):
                st.session_state["see-results"] = describe_compare(
                    picture, question, seers, specs=all_specs, keys=keys, payer=payer()
                )
        except UsageError as exc:
            st.error(plain(str(exc)))
    if "see-results" in st.session_state:
        answers = st.session_state["see-results"]
        saved_caption(answers[0].run_id)
        render_answer_columns([r.model for r in answers], answers)

    with st.expander("Evaluate on a labelled set: a metric with 95% intervals"):
        evaluate_on_a_set()

with paint:
    prompt = st.text_area("Prompt", value="A lighthouse on a cliff at dawn, watercolour", key="paint-prompt")
    size = st.text_input("Size (WIDTHxHEIGHT)", value=DEFAULT_SIZE, key="paint-size")
    painters = choose_models("paint", "Text-to-image models", "paint-models")
    if st.button("Paint", type="primary", disabled=not (prompt.strip() and painters), key="paint-run"):
        try:
            with st.spinner("Painting…"):
                st.session_state["paint-results"] = paint_compare(
                    prompt, painters, size.strip(), specs=all_specs, keys=keys, payer=payer()
                )
        except UsageError as exc:
            st.error(plain(str(exc)))
    if "paint-results" in st.session_state:
        painted = st.session_state["paint-results"]
        saved_caption(painted[0].run_id)
        show_pictures(painted)
