"""Embedding models compared through the project, on the labelled retrieval set (bench/data/retrieval):
the bundled `wordllama-256` and BM25, each task's 300 passages added as documents of one chunk through
`Library.add`, ranked by `evals.compare_embedders` for every question (gold: the passage's file).

Prints, per task (para: 91 paraphrased questions; lex: 100 questions sharing some words; exact: the
docstring's first sentence, found verbatim), recall@1/5/10, MRR and nDCG@10 with their intervals, the
seconds per 1,000 chunks each candidate measured, the comparison's wall time, and the figures the README's
table got for the same candidates from each runtime alone (recall@1/5/10 and MRR, para; recall@10, lex) with
the difference: the command and that measurement rank the same passages with the same models, so they
should agree.

Run: .venv/bin/python bench/bench_embedders.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATA = Path(__file__).resolve().parent / "data" / "retrieval"
EMBEDDER = "wordllama-256"
# The README's table ("Improving results"), measured with each runtime alone on the same set.
README = {
    ("para", "wordllama-256"): {"recall@1": 0.31, "recall@5": 0.64, "recall@10": 0.86, "MRR": 0.48},
    ("para", "bm25"): {"recall@1": 0.30, "recall@5": 0.47, "recall@10": 0.57, "MRR": 0.39},
    ("lex", "wordllama-256"): {"recall@10": 0.86},
    ("lex", "bm25"): {"recall@10": 0.78},
}
TASKS = {  # task: (questions file, the passage text indexed)
    "para": ("queries_para.jsonl", lambda p: f"{p['name']}\n{p['summary']} {p['body']}"),
    "lex": ("queries_lex.jsonl", lambda p: f"{p['name']}\n{p['body']}"),
    "exact": ("queries_lex.jsonl", lambda p: f"{p['name']}\n{p['summary']} {p['body']}"),
}


def read_jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def run_task(library, task: str) -> None:
    from playground.evals import UploadedQuestions, compare_embedders

    questions_file, passage_text = TASKS[task]
    collection = library.create(task, EMBEDDER, 256, 0)
    files = [(f"{p['id']}.txt", passage_text(p).encode()) for p in read_jsonl("passages.jsonl")]
    outcomes = library.add(collection, files)
    assert all(o.ok for o in outcomes) and sum(o.chunks for o in outcomes) == len(files), "one chunk each"
    lines = [
        json.dumps({"question": q["query"], "gold_files": [f"{q['gold']}.txt"]})
        for q in read_jsonl(questions_file)
    ]
    began = time.perf_counter()
    result = compare_embedders(
        library, task, UploadedQuestions(questions_file, "\n".join(lines).encode()), [EMBEDDER]
    )
    wall = time.perf_counter() - began
    print(f"\n{task}: {result.chunks} chunks, {result.questions.label}; comparison wall time {wall:.2f} s")
    for candidate in result.results:
        assert candidate.ok, candidate.error
        figures = "  ".join(f"{name} {m.text()}" for name, m in candidate.metrics.items())
        print(f"  {candidate.name:<14} {figures}  ({candidate.seconds_per_1k:.3f} s / 1,000 chunks)")
        reference = README.get((task, candidate.name), {})
        if reference:
            diffs = ", ".join(
                f"{n} {candidate.metrics[n].mean:.2f} vs {v:.2f} ({candidate.metrics[n].mean - v:+.2f})"
                for n, v in reference.items()
            )
            print(f"  {'':<14} README (runtime alone): {diffs}")


def main() -> None:
    folder = tempfile.mkdtemp(prefix="bench-embedders-")
    os.environ["PLAYGROUND_DB"] = f"sqlite:///{folder}/bench.db"
    from playground.core.policy import User
    from playground.core.specs import load_specs
    from playground.rag import Library
    from playground.storage import Store

    library = Library(Store(), load_specs(), user=User("bench", "bench"))
    for task in TASKS:
        run_task(library, task)


if __name__ == "__main__":
    main()
