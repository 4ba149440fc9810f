"""Retrieval and few-shot prompting, one run: what the project adds over the bundled embedder and the
databases, on deterministic English text (sentences of the Python standard library's docstrings, drawn with
a fixed seed into chunks of about 200 cl100k tokens; no network, no key).

1. Embedding throughput: the same N chunks embedded by the raw runtime (`WordLlama.embed(batch, norm=True)`
   in batches of 64) and through the project (`rag.embedding.embed_texts` with the `wordllama-256` spec),
   3 runs each, interleaved: chunks/s of each (median) and project / raw (goal >= 0.9). Apart, what the
   adapter does besides the raw call: its second tokenisation (to count tokens) and the vectors' round
   trip through Python floats.
2. Indexing C chunks (10,000) in a fresh SQLite file: embedded by the bundled model (timed apart), then
   `CollectionStore.add_document` of 100 documents of C/100 chunks with their vectors; and the realistic
   path, `Library.add` of 4 generated markdown files (C paragraphs of ~200 tokens, default chunking
   256/32), with parse, chunk, embed and store timed apart (the library's own functions, wrapped in this
   process only).
3. Query latency over the library's ~C chunks, Q queries (p50 / p90): `Library.search(k=5)` by vector
   (embeds the query, then sqlite-vec in SQLite; goal p50 <= 50 ms), the query embedding alone, the
   database part alone (`CollectionStore.search` with precomputed vectors) and its availability check;
   BM25 (`method="bm25"`): the first query (reads the chunks and builds the index) apart from the others,
   and the chunk read alone. The same vector figures on PostgreSQL 16 with pgvector (pgserver's build, a
   throwaway cluster), or a printed reason why not.
4. Few-shot overhead: an evaluation of R rows x 1 scripted model (echo, TTFT 0.05 s, concurrency 4) with
   shots=(3,) (`first`, `random`, `similar`) against shots=(0,) over the same calls, 3 runs each,
   interleaved: wall time of `run()` over the 0-shot one (ideal ~1.0), the input tokens the examples add
   per call (saved cells' `result.input_tokens`), and for `similar` the one-time ranking (every row's
   prompt embedded once) apart.

Run: .venv/bin/python bench/bench_retrieval.py [--quick] [--no-postgres]
     (--quick: N = 1,000, C = 2,000, Q = 30, R = 40)
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from playground.core.policy import User  # noqa: E402
from playground.core.specs import ModelSpec, load_specs  # noqa: E402
from playground.engine.tokens import estimator_for  # noqa: E402
from playground.evals import Dataset, EvalSetup, Evaluation, MetricChoice, evaluation_store  # noqa: E402
from playground.rag import library as library_module  # noqa: E402
from playground.rag.embedding import EmbedRun, Payer, embedding_model, similarity_ranker  # noqa: E402
from playground.rag.embedding import embed_texts as embed_billed  # noqa: E402
from playground.rag.library import Library  # noqa: E402
from playground.storage import Store, StoreUnavailableError  # noqa: E402
from playground.storage.vectors import Collection, CollectionStore, NewChunk  # noqa: E402
from tests import postgres  # noqa: E402
from tests.conftest import free_port, remote_spec  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402

EMBEDDER = "wordllama-256"
OWNER = "bench"
USER = User(OWNER, OWNER)


def embed_texts(spec: ModelSpec, model: Any, texts: list[str]) -> EmbedRun:  # noqa: ANN401 - an adapter
    """`rag.embedding.embed_texts` as the project calls it: admitted (a local model: no gate) and billed to
    no store."""
    with Payer().admit(spec, texts) as bill:
        return embed_billed(spec, model, texts, bill)


CHUNK_TOKENS = 200  # each generated chunk (and library paragraph): sentences up to about this many tokens
BATCH = 64
TTFT_S = 0.05
MODULES = """abc argparse ast asyncio base64 bisect calendar collections contextlib copy csv dataclasses datetime
decimal difflib email.message enum fractions functools gettext glob gzip hashlib heapq hmac html http.client
http.server imaplib inspect io ipaddress itertools json logging mailbox mimetypes multiprocessing numbers
operator optparse os pathlib pickle pkgutil platform plistlib poplib pprint queue random re sched secrets
selectors shelve shlex shutil signal smtplib socket socketserver sqlite3 ssl statistics string struct
subprocess tarfile tempfile textwrap threading time timeit tokenize trace traceback types typing unittest
urllib.parse urllib.request uuid warnings weakref xml.dom.minidom xml.etree.ElementTree zipfile zoneinfo
concurrent.futures configparser codecs cmd code doctest fnmatch ftplib getopt locale pdb profile pstats
tracemalloc unittest.mock wave zipapp""".split()


@dataclass(frozen=True)
class Size:
    """How much one run does."""

    embed_chunks: int  # N: part 1
    index_chunks: int  # C: parts 2 and 3
    queries: int  # Q
    eval_rows: int  # R
    repeats: int = 3


FULL = Size(embed_chunks=10_000, index_chunks=10_000, queries=100, eval_rows=100)
QUICK = Size(embed_chunks=1_000, index_chunks=2_000, queries=30, eval_rows=40)


@dataclass
class Table:
    """The closing table: one line per figure, with its goal when the issue sets one."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, what: str, value: str, goal: str = "") -> None:
        """One line."""
        self.rows.append((what, value, goal))

    def print(self) -> None:
        """All lines, aligned."""
        width = max(len(w) for w, _, _ in self.rows)
        value_width = max(len(v) for _, v, _ in self.rows)
        print(f"\n{'figure'.ljust(width)}  {'measured'.rjust(value_width)}  goal")
        for what, value, goal in sorted(self.rows, key=lambda row: row[0][:2]):  # by part, stable
            print(f"{what.ljust(width)}  {value.rjust(value_width)}  {goal}")


# --- text ----------------------------------------------------------------------------------------------


def sentences() -> list[str]:
    """English sentences from the docstrings of a fixed list of standard-library modules (their classes,
    functions and methods, by name), deduplicated, prose only (no doctest lines or code-heavy lines)."""
    docs: list[str] = []
    seen: set[str] = set()

    def add(obj: Any) -> None:
        doc = inspect.getdoc(obj)
        if doc and doc not in seen:
            seen.add(doc)
            docs.append(doc)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # typing.io and typing.re are deprecated aliases
        for name in MODULES:
            module = importlib.import_module(name)
            add(module)
            for attr in sorted(vars(module)):
                obj = getattr(module, attr)
                if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
                    continue
                add(obj)
                if inspect.isclass(obj):
                    for member in sorted(vars(obj)):
                        if not member.startswith("_"):
                            add(getattr(obj, member, None))
    found: list[str] = []
    kept: set[str] = set()
    for doc in docs:
        for paragraph in re.split(r"\n\s*\n", doc):
            if paragraph.lstrip().startswith((">>>", "...")):
                continue
            for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(paragraph.split())):
                words = sentence.split()
                prose = (
                    sum(c.isalpha() or c == " " for c in sentence) / len(sentence) > 0.8 if words else False
                )
                if 5 <= len(words) <= 60 and prose and sentence not in kept:
                    kept.add(sentence)
                    found.append(sentence)
    return found


class Corpus:
    """Chunks of about CHUNK_TOKENS tokens, each a seeded draw of sentences: deterministic, distinct."""

    def __init__(self, pool: Sequence[str]) -> None:
        count = estimator_for("gpt-4").count_text  # cl100k_base, offline
        self.pool = list(pool)
        self.tokens = [count(s) + 1 for s in self.pool]  # +1: the space joining it

    def chunks(self, n: int, seed: int) -> list[str]:
        """`n` chunks drawn with `seed`."""
        rng = random.Random(seed)
        out = []
        for _ in range(n):
            picked, tokens = [], 0
            while tokens < CHUNK_TOKENS - 10:
                i = rng.randrange(len(self.pool))
                if tokens + self.tokens[i] > CHUNK_TOKENS and picked:
                    continue
                picked.append(self.pool[i])
                tokens += self.tokens[i]
            out.append(" ".join(picked))
        return out

    def queries(self, n: int, seed: int) -> list[str]:
        """`n` short queries: the first words of seeded sentences, lower-cased, without the full stop."""
        rng = random.Random(seed)
        return [" ".join(s.rstrip(".!?:").split()[:10]).lower() for s in rng.sample(self.pool, n)]


def markdown_files(paragraphs: Sequence[str], files: int) -> list[tuple[str, bytes]]:
    """`paragraphs` as `files` markdown documents, a heading every 8 paragraphs (each file stays under the
    10 MB document limit)."""
    per = -(-len(paragraphs) // files)
    out = []
    for f in range(files):
        part = paragraphs[f * per : (f + 1) * per]
        lines = [f"# Handbook, part {f + 1}\n"]
        for i, paragraph in enumerate(part):
            if i % 8 == 0:
                lines.append(f"## Section {i // 8 + 1}: {' '.join(paragraph.split()[:5])}\n")
            lines.append(paragraph + "\n")
        out.append((f"handbook-{f + 1}.md", "\n".join(lines).encode()))
    return out


# --- helpers -------------------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (linear interpolation)."""
    return float(np.percentile(np.asarray(values), q))


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for the table."""
    return f"{seconds * 1000:.1f} ms"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call took, and its result."""
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def latencies(fn: Callable[[Any], Any], inputs: Sequence[Any], warmup: int = 3) -> list[float]:
    """Seconds of `fn(x)` per input, after `warmup` untimed calls."""
    for x in inputs[:warmup]:
        fn(x)
    return [timed(lambda x=x: fn(x))[0] for x in inputs]


def p50_p90(values: Sequence[float]) -> str:
    """'p50 / p90' in milliseconds."""
    return f"{pct(values, 50) * 1000:.1f} / {pct(values, 90) * 1000:.1f} ms"


def documents_of(texts: Sequence[str], per: int) -> Iterator[tuple[str, str, list[NewChunk]]]:
    """`texts` as documents of `per` chunks: name, content, and each chunk with its exact offsets."""
    count = estimator_for("gpt-4").count_text
    for d in range(0, len(texts), per):
        part, chunks, offset = texts[d : d + per], [], 0
        for position, chunk in enumerate(part):
            chunks.append(NewChunk(position, offset, offset + len(chunk), count(chunk), chunk))
            offset += len(chunk) + 2
        yield f"doc-{d // per + 1:04d}.md", "\n\n".join(part), chunks


# --- 1. embedding throughput ---------------------------------------------------------------------------


def bench_embedding(texts: list[str], spec: ModelSpec, repeats: int, table: Table) -> None:
    """Raw WordLlama against embed_texts over the same texts, interleaved."""
    import wordllama
    from wordllama import WordLlama

    print(f"\n1. Embedding {len(texts):,} chunks (~{CHUNK_TOKENS} tokens), raw runtime vs project")
    t_load, raw = timed(
        lambda: WordLlama.load(dim=256, cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    )
    t_project_load, model = timed(lambda: embedding_model(spec))
    print(f"   load: raw {t_load:.2f} s, project {t_project_load:.2f} s (each its own copy)")

    def run_raw() -> np.ndarray:
        return np.concatenate(
            [raw.embed(texts[i : i + BATCH], norm=True) for i in range(0, len(texts), BATCH)]
        )

    run_raw()  # warm-up of both
    embed_texts(spec, model, texts[:BATCH])
    raw_s, project_s, calls_s = [], [], []
    for r in range(repeats):
        seconds, a = timed(run_raw)
        raw_s.append(seconds)
        seconds, run = timed(lambda: embed_texts(spec, model, texts))
        project_s.append(seconds)
        calls_s.append(run.seconds)
        print(
            f"   run {r + 1}: raw {len(texts) / raw_s[-1]:,.0f}/s, project {len(texts) / project_s[-1]:,.0f}/s"
        )
    same = float(np.max(np.abs(a - run.vectors)))
    raw_rate, project_rate = len(texts) / statistics.median(raw_s), len(texts) / statistics.median(project_s)
    ratio = project_rate / raw_rate
    # Where the project's time goes besides the raw call: the adapter's second tokenisation (its token
    # count) and the vectors' round trip through tuples of Python floats and back to float32.
    tokenize_s = timed(lambda: [raw.tokenize(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)])[0]
    tuples_s = timed(lambda: np.asarray([tuple(float(x) for x in row) for row in a], dtype=np.float32))[0]
    print(
        f"   median: raw {raw_rate:,.0f} chunks/s, project {project_rate:,.0f} chunks/s "
        f"(calls alone {len(texts) / statistics.median(calls_s):,.0f}/s): ratio {ratio:.3f}; "
        f"max |difference| of vectors {same:.1e}"
    )
    print(
        f"   apart: a second tokenisation of the chunks {tokenize_s:.2f} s, vectors through Python floats "
        f"and back {tuples_s:.2f} s, against {statistics.median(raw_s):.2f} s for the raw embedding"
    )
    table.add("1. raw embedding, chunks/s", f"{raw_rate:,.0f}")
    table.add("1. project embedding, chunks/s", f"{project_rate:,.0f}")
    table.add("1. project / raw", f"{ratio:.3f}", ">= 0.9")


# --- 2. indexing ---------------------------------------------------------------------------------------


def bench_direct_store(
    store: Store, texts: list[str], vectors: np.ndarray, per: int
) -> tuple[Collection, float]:
    """add_document of every chunk with its vector, `per` chunks a document; the collection and seconds."""
    collections = CollectionStore(store)
    collection = collections.create(OWNER, f"direct-{len(texts)}", EMBEDDER, 256, 32)
    began = time.perf_counter()
    at = 0
    for name, content, chunks in documents_of(texts, per):
        collections.add_document(
            collection, name, "markdown", content, chunks, vectors[at : at + len(chunks)]
        )
        at += len(chunks)
    return collection, time.perf_counter() - began


@contextmanager
def library_timers(library: Library, times: dict[str, float]) -> Iterator[None]:
    """Time parse, chunk, embed and store inside Library.add (the names the library module calls, and the
    collection store's add_document), restored afterwards."""
    names = {"parse": "parse_document", "chunk": "chunk_text", "embed": "embed_texts"}
    originals = {key: getattr(library_module, name) for key, name in names.items()}

    def wrap(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - began

        return timed_call

    for key, name in names.items():
        setattr(library_module, name, wrap(key, originals[key]))
    library.collections.add_document = wrap("store", library.collections.add_document)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for key, name in names.items():
            setattr(library_module, name, originals[key])
        del library.collections.add_document


def bench_library_add(library: Library, paragraphs: list[str], table: Table) -> Collection:
    """Library.add of the paragraphs as 4 markdown files; the collection, with its counts."""
    files = markdown_files(paragraphs, 4)
    collection = library.create("handbook", EMBEDDER, 256, 32)
    times: dict[str, float] = {}
    with library_timers(library, times):
        total, outcomes = timed(lambda: library.add(collection, files))
    bad = [o for o in outcomes if not o.ok]
    if bad:
        raise SystemExit(f"Library.add failed: {bad}")
    chunks = sum(o.chunks for o in outcomes)
    megabytes = sum(len(data) for _, data in files) / 1e6
    rest = total - sum(times.values())
    print(
        f"   Library.add of {len(files)} markdown files ({megabytes:.1f} MB, {len(paragraphs):,} paragraphs) "
        f"-> {chunks:,} chunks in {total:.2f} s: parse {times['parse']:.2f} s, chunk {times['chunk']:.2f} s, "
        f"embed {times['embed']:.2f} s, store {times['store']:.2f} s, other {rest:.2f} s"
    )
    table.add(f"2. Library.add, {chunks:,} chunks, total", f"{total:.2f} s")
    table.add(
        "2.   parse / chunk / embed / store",
        f"{times['parse']:.2f} / {times['chunk']:.2f} / {times['embed']:.2f} / {times['store']:.2f} s",
    )
    return library.get(collection.name)


# --- 3. queries ----------------------------------------------------------------------------------------


def bench_vector_queries(
    library: Library, collection: Collection, queries: list[str], spec: ModelSpec, label: str, table: Table
) -> None:
    """Library.search by vector, the query's embedding alone, the database part alone, its check alone."""
    model = embedding_model(spec)
    vectors = embed_texts(spec, model, queries).vectors
    store = library.collections
    full = latencies(lambda q: library.search(collection, q, k=5), queries)
    embed = latencies(lambda q: embed_texts(spec, model, [q]), queries)
    database = latencies(lambda v: store.search(collection, collection.embedder, v, 5), list(vectors))
    check = latencies(lambda _: store.problem(), queries)
    print(
        f"   {label}: Library.search p50/p90 {p50_p90(full)}; query embedding {p50_p90(embed)}; "
        f"CollectionStore.search {p50_p90(database)} (of which the availability check {p50_p90(check)})"
    )
    goal = "p50 <= 50 ms" if label == "sqlite-vec" else ""
    table.add(f"3. {label}: Library.search p50 / p90", p50_p90(full), goal)
    table.add(f"3. {label}: database part p50 / p90", p50_p90(database))


def bench_bm25(library: Library, collection: Collection, queries: list[str], table: Table) -> None:
    """BM25: the first query (chunk read and index build) apart, then the others; the chunk read alone."""
    library_module._bm25.cache_clear()
    first, _ = timed(lambda: library.search(collection, queries[0], k=5, method="bm25"))
    rest = latencies(lambda q: library.search(collection, q, k=5, method="bm25"), queries[1:], warmup=0)
    read = latencies(lambda _: library.collections.chunks(collection), queries[:10], warmup=1)
    print(
        f"   BM25: first query {first * 1000:.0f} ms (reads the chunks, builds the index); then p50/p90 "
        f"{p50_p90(rest)}, of which reading the {collection.chunks:,} chunks from the store {p50_p90(read)}"
    )
    table.add("3. BM25 first query (builds the index)", ms(first))
    table.add("3. BM25 p50 / p90 after it", p50_p90(rest))


def bench_postgres(
    texts: list[str], vectors: np.ndarray, per: int, queries: list[str], spec: ModelSpec, table: Table
) -> None:
    """The direct store and the vector queries on a throwaway PostgreSQL 16 cluster with pgvector."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver's import: platformdirs without XDG_RUNTIME_DIR
        bin_dir = postgres.pgvector_bin_dir()
    if bin_dir is None:
        print("   PostgreSQL: skipped (pgserver, which ships PostgreSQL 16 with pgvector, is not installed)")
        table.add("3. pgvector", "skipped", "")
        return
    folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
    try:
        with postgres.cluster(folder, free_port(), bin_dir) as url:
            store = Store(postgres.fresh_database(url))
            library = Library(store, load_specs(), user=USER)
            if problem := library.vector_problem():
                print(f"   PostgreSQL: skipped ({problem})")
                table.add("3. pgvector", "skipped", "")
                return
            collection, seconds = bench_direct_store(store, texts, vectors, per)
            print(f"   pgvector: add_document of {len(texts):,} chunks in {seconds:.2f} s")
            table.add(f"2. pgvector: store {len(texts):,} chunks", f"{seconds:.2f} s")
            found = library.get(collection.name)
            bench_vector_queries(library, found, queries, spec, f"pgvector, {per}-chunk documents", table)
            store.engine.dispose()
    except (OSError, RuntimeError, StoreUnavailableError) as exc:
        reason = str(exc).splitlines()[0]
        print(f"   PostgreSQL: skipped ({type(exc).__name__}: {reason})")
        table.add("3. pgvector", "skipped", "")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- 4. few-shot ---------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    """One evaluation's figures."""

    build_s: float  # the Evaluation built: checks, picker (and ranking), saved
    run_s: float  # run(): every call made and saved
    input_tokens: float  # mean per cell
    rank_s: float = 0.0


def bench_shots(corpus: Corpus, rows: int, repeats: int, folder: Path, table: Table) -> None:
    """R rows x 1 echo model at concurrency 4: 3-shot (first, random, similar) against 0-shot."""
    print(f"\n4. Few-shot: {rows} rows x 1 scripted model (echo, TTFT {TTFT_S} s), concurrency 4")
    questions = [" ".join(s.split()[:25]) for s in random.Random(4).sample(corpus.pool, rows)]
    dataset = Dataset(
        "shots",
        ("q", "expected"),
        tuple({"q": q, "expected": q.split()[-1].strip(".,;:")} for q in questions),
    )
    store = evaluation_store(Store(f"sqlite:///{folder / 'evals.db'}"))
    specs = load_specs()
    ranker = similarity_ranker(specs[EMBEDDER], Payer())  # loaded before any timing, as a page would have it
    ranker(["warm", "up"])
    variants = {"0-shot": ((0,), "first"), "3 first": ((3,), "first"), "3 random": ((3,), "random")}
    variants["3 similar"] = ((3,), "similar")
    results: dict[str, list[EvalRun]] = {name: [] for name in variants}
    with ScriptedServer() as server:
        specs = {**specs, "echo": remote_spec(server.url(f"echo~ttft={TTFT_S}"), key="echo")}
        warm = EvalSetup(template="Q: {q}\nA:", models=("echo",), metrics=(MetricChoice("contains"),))
        list(Evaluation(warm, dataset, specs, store).run())  # untimed: the SDK, the template pool, the store
        for r in range(repeats):
            for name, (shots, select) in variants.items():
                rank: list[float] = []

                def similarity(texts: Sequence[str], rank: list[float] = rank) -> Any:
                    began = time.perf_counter()
                    out = ranker(texts)
                    rank.append(time.perf_counter() - began)
                    return out

                setup = EvalSetup(
                    template="Q: {q}\nA:",
                    models=("echo",),
                    metrics=(MetricChoice("contains"),),
                    concurrency=4,
                    shots=shots,
                    shot_select=select,  # type: ignore[arg-type]
                )
                chosen = similarity if select == "similar" else None
                build_s, evaluation = timed(
                    lambda setup=setup, chosen=chosen: Evaluation(
                        setup, dataset, specs, store, similarity=chosen
                    )
                )
                run_s, cells = timed(lambda evaluation=evaluation: list(evaluation.run()))
                saved = store.get(evaluation.eval_id)
                assert saved is not None and saved.complete and len(cells) == rows
                errors = [c.result.error for c in saved.cells if not c.result.ok]
                assert not errors, errors[:3]
                tokens = statistics.mean(c.result.input_tokens or 0 for c in saved.cells)
                results[name].append(EvalRun(build_s, run_s, tokens, sum(rank)))
            print(
                "   round "
                + str(r + 1)
                + ": "
                + ", ".join(f"{n} {results[n][-1].run_s:.3f} s" for n in variants)
            )
    ideal = rows * TTFT_S / 4
    base = statistics.median(e.run_s for e in results["0-shot"])
    base_tokens = statistics.mean(e.input_tokens for e in results["0-shot"])
    print(f"   (ideal wall: rows x {TTFT_S} s / 4 = {ideal:.2f} s)")
    for name, runs in results.items():
        wall = statistics.median(e.run_s for e in runs)
        build = statistics.median(e.build_s for e in runs)
        extra = statistics.mean(e.input_tokens for e in runs) - base_tokens
        line = f"   {name:>9}: run {wall:.3f} s ({wall / base:.3f} of 0-shot), built in {build * 1000:.0f} ms"
        if name != "0-shot":
            line += f", +{extra:.0f} input tokens per call"
            table.add(f"4. {name.replace('3 ', '3-shot ')} / 0-shot, run wall", f"{wall / base:.3f}", "~1.0")
        if name == "3 similar":
            rank = statistics.median(e.rank_s for e in runs)
            line += f"; ranking {rows} prompts {rank * 1000:.0f} ms (once, in the build)"
            table.add(f"4. similar: one-time ranking of {rows} rows", ms(rank))
        print(line)
    table.add("4. 0-shot run wall (ideal)", f"{base:.3f} s ({ideal:.2f})")
    extra = statistics.mean(e.input_tokens for e in results["3 first"]) - base_tokens
    table.add("4. input tokens per call, 0 -> 3 shots", f"{base_tokens:.0f} -> {base_tokens + extra:.0f}")


# --- main ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 1,000, C = 2,000, Q = 30, R = 40")
    parser.add_argument("--no-postgres", action="store_true", help="skip the pgvector queries")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    # Importing wordllama calls logging.basicConfig(level=INFO) (root logger: every httpx request, every
    # migration step); back to the default WARNING here. bm25s sets its own logger to DEBUG when imported.
    importlib.import_module("wordllama")
    importlib.import_module("bm25s")
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    print(
        f"bench_retrieval: nproc {os.cpu_count()}, load {os.getloadavg()[0]:.2f}, {'quick' if args.quick else 'full'}"
    )
    table = Table()
    spec = load_specs()[EMBEDDER]
    t, pool = timed(sentences)
    corpus = Corpus(pool)
    print(f"text: {len(pool):,} docstring sentences from {len(MODULES)} stdlib modules ({t:.2f} s)")

    bench_embedding(corpus.chunks(size.embed_chunks, seed=1), spec, size.repeats, table)

    folder = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    try:
        print(f"\n2. Indexing {size.index_chunks:,} chunks (fresh SQLite file, sqlite-vec)")
        store = Store(f"sqlite:///{folder / 'retrieval.db'}")
        texts = corpus.chunks(size.index_chunks, seed=2)
        run = embed_texts(spec, embedding_model(spec), texts)
        per = max(1, size.index_chunks // 100)
        collection, store_s = bench_direct_store(store, texts, run.vectors, per)
        print(
            f"   embed {run.seconds:.2f} s ({len(texts) / run.seconds:,.0f} chunks/s), "
            f"add_document x {-(-len(texts) // per)} documents {store_s:.2f} s "
            f"({len(texts) / store_s:,.0f} chunks/s)"
        )
        table.add(f"2. embed {len(texts):,} chunks", f"{run.seconds:.2f} s")
        table.add(f"2. store {len(texts):,} chunks (add_document)", f"{store_s:.2f} s")
        library = Library(store, load_specs(), user=USER)
        handbook = bench_library_add(library, corpus.chunks(size.index_chunks, seed=3), table)

        queries = corpus.queries(size.queries, seed=5)
        print(f"\n3. Queries, k = 5, over the library's {handbook.chunks:,} chunks ({len(queries)} queries)")
        bench_vector_queries(library, handbook, queries, spec, "sqlite-vec", table)
        direct = library.collections.find(OWNER, collection.name)
        assert direct is not None
        bench_vector_queries(library, direct, queries, spec, f"sqlite-vec, {per}-chunk documents", table)
        bench_bm25(library, handbook, queries, table)
        if args.no_postgres:
            print("   PostgreSQL: skipped (--no-postgres)")
        else:
            bench_postgres(texts, run.vectors, per, queries, spec, table)
        store.engine.dispose()

        bench_shots(corpus, size.eval_rows, size.repeats, folder, table)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    table.print()


if __name__ == "__main__":
    main()
