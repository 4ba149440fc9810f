"""Documents: collections of your files, searched by meaning or by words, Ask: answers with and without
them, and Compare embedders: embedding models and BM25 ranked on the collection with gold questions."""

from __future__ import annotations

import streamlit as st

from pages.common.ui import (
    current_user,
    database_answers,
    gate,
    keyring,
    page_shell,
    render_answer,
    shared_store,
    specs,
)
from playground.compare import ASK_MODES, AskPlan, Comparison, UsageError, plan_ask
from playground.core import Params, plain
from playground.engine import Done, usability
from playground.evals import (
    EmbedderComparison,
    GeneratedQuestions,
    UploadedQuestions,
    compare_embedders,
)
from playground.rag import (
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_OVERLAP_TOKENS,
    SUPPORTED,
    TOKEN_ENCODING,
    Collection,
    FileOutcome,
    Library,
    Passage,
    citations,
    default_embedder,
)

page_shell("pages/documents.py")

METHODS = {"vector": "By meaning (the collection's embedding model)", "bm25": "By words (BM25)"}


def library() -> Library:
    """This user's collections, embedded with the models this session may use."""
    return Library(shared_store(), specs(), keyring(), current_user(), gate())


def new_collection(lib: Library) -> None:
    """Name, embedding model and chunking of a new collection."""
    with st.form("doc-new", clear_on_submit=True):
        name = st.text_input("Name", key="doc-new-name")
        embedders = lib.embedders()
        try:
            default = embedders.index(default_embedder(lib.specs))
        except UsageError:
            default = 0
        embedder = st.selectbox("Embedding model", embedders, index=default, key="doc-new-embedder")
        c1, c2 = st.columns(2)
        size = c1.number_input(f"Chunk size (tokens, {TOKEN_ENCODING})", 16, 4096, DEFAULT_CHUNK_TOKENS)
        overlap = c2.number_input("Overlap (tokens)", 0, 2048, DEFAULT_OVERLAP_TOKENS)
        if st.form_submit_button("Create collection"):
            try:
                with database_answers():
                    lib.create(name, embedder or "", int(size), int(overlap))
            except UsageError as exc:
                st.error(plain(str(exc)))
            else:
                st.session_state["doc-collection"] = name.strip()
                st.rerun()


def add_files(lib: Library, name: str) -> None:
    """Upload files into the collection; each file's outcome, a refused one with its reason."""
    outcomes = st.session_state.pop("doc-outcomes", [])  # from the add before this rerun
    if added := [o for o in outcomes if o.ok]:
        st.success("  \n".join(plain(_added(o)) for o in added))
    for outcome in outcomes:
        if not outcome.ok:
            st.error(plain(f"Not added: {outcome.error}"))
    round_ = st.session_state.setdefault("doc-upload-round", 0)  # a new uploader, empty, after each add
    uploads = st.file_uploader(
        f"Add files ({SUPPORTED})", accept_multiple_files=True, key=f"doc-upload-{name}-{round_}"
    )
    if uploads and st.button("Add to the collection", key="doc-add"):
        with st.spinner("Reading, chunking and embedding…"), database_answers():
            outcomes = lib.add(lib.get(name), [(u.name, u.getvalue()) for u in uploads])
        # Drawn again so the collection's counts above include the new files.
        st.session_state["doc-outcomes"] = outcomes
        st.session_state["doc-upload-round"] = round_ + 1
        st.rerun()


def show_passages(passages: list[Passage] | tuple[Passage, ...], note: str = "") -> None:
    """Retrieved chunks: number, file and position, the score named by what it measures (a weak match
    greyed), and the text (plain); then what the scores mean."""
    for p in passages:
        label = plain(f"[{p.number}] {p.source} · chunk {p.position + 1} · {p.score_label}")
        with st.expander(f":gray[{label}]" if p.weak else label):
            st.text(p.text)
    if note:
        st.caption(plain(note))


def ask_section(lib: Library, current: Collection, method: str, k: int) -> None:
    """A question answered by each chosen model with and without the retrieved chunks, side by side."""
    all_specs = specs()
    ring = keyring()
    usable = [key for key, s in sorted(all_specs.items()) if s.generates_text and usability(s, ring)[0]]
    question = st.text_area("Question", key="doc-question", height=80)
    models = st.multiselect(
        "Models", usable, default=[m for m in ("smollm2-135m",) if m in usable], key="doc-models"
    )
    mode = st.radio("Answer", ASK_MODES, horizontal=True, key="doc-mode", format_func=_mode_label)
    missing = "type a question" if not question.strip() else "choose at least one model" if not models else ""
    if missing:
        st.caption(plain(f"To ask: {missing}."))
    if not st.button("Ask", type="primary", key="doc-ask", disabled=bool(missing)):
        return
    try:
        with database_answers():
            plan = plan_ask(
                question,
                models,
                all_specs,
                lib,
                current.name,
                k=k,
                mode=mode,
                method=method,
                keys=ring,
                params=Params(),  # the one default answer length (core.DEFAULT_MAX_TOKENS)
            )
    except UsageError as exc:
        st.error(plain(str(exc)))
        return
    show_answers(plan, models, lib.score_note(current, method))  # type: ignore[arg-type]


def show_answers(plan: AskPlan, models: list[str], note: str) -> None:
    """Run each mode's comparison and show model × mode with the passages each answer cites."""
    if plan.trimmed_note:
        st.warning(plain(plan.trimmed_note))
    st.markdown("**Retrieved**")
    show_passages(plan.passages, note)
    shown = plan.rag.passages if plan.rag else ()
    results: dict[str, dict[str, object]] = {}
    for name, p in plan.plans.items():
        try:
            comparison = Comparison(p, shared_store(), user=current_user(), gate=gate())
        except UsageError as exc:
            st.error(plain(str(exc)))
            return
        with st.spinner(f"Answering ({_mode_label(name)})…"):
            results[name] = {e.result.model: e.result for e in comparison.events() if isinstance(e, Done)}
    for key in models:
        st.markdown(f"##### {plain(key)}")
        for name, column in zip(plan.plans, st.columns(len(plan.plans)), strict=True):
            with column:
                st.caption(_mode_label(name))
                result = results[name][key]
                render_answer(result)  # type: ignore[arg-type]
                if name == "rag":
                    for cited in citations(result.text, shown):  # type: ignore[attr-defined]
                        with st.popover(
                            plain(f"[{cited.number}] {cited.source} · chunk {cited.position + 1}")
                        ):
                            st.text(cited.text)


def compare_view(lib: Library, name: str, own_embedder: str) -> None:
    """Embedding models and BM25 compared on this collection, with questions uploaded or generated."""
    st.caption(
        "Each model embeds every chunk and ranks them for each question: recall@1/5/10, MRR and nDCG@10 "
        "against the gold chunks or files, with 95% intervals; seconds and cost per 1,000 chunks."
    )
    origin = st.radio(
        "Questions", ["upload", "generate"], horizontal=True, key="emb-origin", format_func=_origin
    )
    source: UploadedQuestions | GeneratedQuestions | None = None
    if origin == "upload":
        upload = st.file_uploader(
            "Questions (CSV or JSONL: question, gold_chunks as ids or FILE#N, and/or gold_files)",
            type=["csv", "jsonl"],
            key="emb-questions",
        )
        source = UploadedQuestions(upload.name, upload.getvalue()) if upload else None
    else:
        ring = keyring()
        writers = [k for k, s in sorted(specs().items()) if s.generates_text and usability(s, ring)[0]]
        c1, c2 = st.columns([3, 1])
        writer = c1.selectbox(
            "Written by",
            writers,
            index=writers.index("smollm2-135m") if "smollm2-135m" in writers else 0,
            key="emb-generator",
        )
        count = c2.number_input("Questions", 1, 200, 10, key="emb-count")
        source = GeneratedQuestions(writer, int(count)) if writer else None
    embedders = st.multiselect("Embedding models", lib.embedders(), default=[own_embedder], key="emb-models")
    bm25 = st.checkbox("BM25 too (the lexical baseline)", value=True, key="emb-bm25")
    clicked = st.button("Compare", type="primary", key="emb-run", disabled=source is None)
    if clicked and source is not None:
        try:
            with st.spinner("Embedding the chunks with each model…"), database_answers():
                found = compare_embedders(lib, name, source, embedders, bm25=bm25)
        except UsageError as exc:
            st.error(plain(str(exc)))
        else:
            st.session_state["emb-result"] = found
    shown: EmbedderComparison | None = st.session_state.get("emb-result")
    if shown is not None and shown.collection == name:
        show_comparison(shown)


def show_comparison(result: EmbedderComparison) -> None:
    """The table of every candidate, the questions and their origin, and one model's projection."""
    asked = result.questions
    st.markdown(plain(f"{result.chunks} chunks · {asked.label}"))
    if asked.eval_id:
        st.caption(plain(f"The generator's answers are saved as evaluation {asked.eval_id} (Evaluate)."))
    for failed in result.failed:
        st.error(plain(f"{failed.name} not compared: {failed.error}"))
    # The embedder's name stays in view when the table scrolls sideways (it is wider than the page).
    st.dataframe(
        result.rows(), hide_index=True, column_config={"embedder": st.column_config.Column(pinned=True)}
    )
    with st.expander(plain(f"Questions: {asked.label}")):
        st.dataframe(asked.rows(), hide_index=True)
    if result.projections:
        from playground.evals import projection_figure  # plotly only once there is something to draw

        names = [p.embedder for p in result.projections]
        pick = st.selectbox("Projection (PCA) of", names, key="emb-projection")
        chosen = next(p for p in result.projections if p.embedder == pick)
        st.plotly_chart(projection_figure(chosen), key="emb-figure")


def _added(outcome: FileOutcome) -> str:
    verb = "Replaced" if outcome.replaced else "Added"
    return f"{verb} {outcome.name}: {outcome.chunks} chunk" + ("" if outcome.chunks == 1 else "s")


def _origin(origin: str) -> str:
    return {"upload": "Upload a file", "generate": "Generate with a model"}.get(origin, origin)


def _mode_label(mode: str) -> str:
    return {"both": "with and without retrieval", "rag": "with retrieval", "plain": "question alone"}.get(
        mode, mode
    )


def choose_collection(lib: Library, collections: list[Collection]) -> Collection:
    """The collection to work on, its counts, and deleting it (beside the choice: it acts on it)."""
    names = [c.name for c in collections]
    if st.session_state.get("doc-collection") not in names:
        st.session_state["doc-collection"] = names[0]
    left, right = st.columns([5, 1], vertical_alignment="bottom")
    chosen = left.selectbox("Collection", names, key="doc-collection")
    with right.popover("Delete", icon=":material/delete:", use_container_width=True):
        st.caption(plain(f"Deletes {chosen!r} with its documents, chunks and vectors."))
        if st.button(plain(f"Delete {chosen}"), type="primary", key="doc-delete"):
            with database_answers():
                lib.remove(chosen or "")
            st.session_state.pop("doc-collection", None)
            st.rerun()
    current = next(c for c in collections if c.name == chosen)
    st.caption(
        plain(
            f"{current.documents} documents · {current.chunks} chunks of {current.chunk_size} tokens "
            f"({current.overlap} overlap) · embedded with {current.embedder}"
        )
    )
    return current


def search_section(lib: Library, current: Collection) -> tuple[str, int]:
    """Search the collection by meaning or by words; the method and k, which Ask uses too."""
    c1, c2 = st.columns([3, 1])
    method = c1.radio("Search", list(METHODS), format_func=METHODS.get, horizontal=True, key="doc-method")
    k = int(c2.number_input("Chunks (k)", 1, 50, 5, key="doc-k"))
    query = st.text_input("Search the collection", key="doc-query")
    if query.strip():
        try:
            with database_answers():
                found = lib.find(current, query, k, method)
        except UsageError as exc:
            st.error(plain(str(exc)))
        else:
            show_passages(found.passages, found.note)
    return method, k


st.title("Documents")
st.caption(
    "Collections of your files, searched by meaning or by words; Ask answers a question with and without "
    "the chunks found; Compare embedders ranks embedding models on a collection."
)
lib = library()
with database_answers():
    collections = lib.list()
    problem = lib.vector_problem()
if problem:
    st.warning(plain(f"Vector search is not available here: {problem}. Search by words (BM25) still works."))
with st.expander("New collection", expanded=not collections):
    new_collection(lib)
if collections:
    current = choose_collection(lib, collections)
    add_files(lib, current.name)
    search_tab, compare_tab = st.tabs(["Search and ask", "Compare embedders"])
    with search_tab:
        method, k = search_section(lib, current)
        st.subheader("Ask")
        ask_section(lib, current, method, k)
    with compare_tab:
        compare_view(lib, current.name, current.embedder)
