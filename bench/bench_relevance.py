"""The relevance floor of an embedding model: below which cosine similarity a chunk found by meaning is
marked "weak match" on the Documents page and in `playground docs search`.

Measured on the labelled set in bench/data/retrieval/ (see its README), with the model's vectors as the
project makes them (`rag.embedding.embed_texts`, L2-normalised, so a dot product is the cosine similarity
the database computes: tests/test_embeddings_compare.py checks that its ranks are exact cosine's):
- answers: the similarity of each question's gold passage (91 paraphrased questions, 100 questions that
  share some words with their passage), in the collection as a user would have it;
- questions the documents do not cover: the 5 best similarities (the page's default k) of each of 40
  off-topic questions (`queries_off.jsonl`, written by hand: cooking, sport, nature, history, none about
  Python) against the same 300 passages.

A demanding user wants a question the documents do not answer to show its chunks as weak, and a real
answer not to be. The floor is the threshold that best separates the two (Youden's J: the share of
answers at or above it minus the share of off-topic results at or above it, highest), on a 0.01 grid.
The run prints both shares at the floor, and how many of the non-gold chunks of on-topic questions'
top 5 fall below it (a near neighbour on the same subject often scores like the answer: the floor flags
unrelated chunks, it cannot tell the right passage from its neighbours).

    PYTHONPATH=. .venv/bin/python bench/bench_relevance.py [--embed wordllama-256] [--models-file F]

It prints the `relevance_floor = X` line for the model's entry in the models file.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from playground.core.specs import ModelSpec, load_specs  # noqa: E402
from playground.rag.embedding import Payer, embed_texts, embedding_model  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "retrieval"
TOP_K = 5  # the page's default number of chunks


def rows(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class Scores:
    """Similarities measured on the labelled set."""

    answers: np.ndarray  # each on-topic question's gold passage
    off_topic: np.ndarray  # the TOP_K best passages of each off-topic question
    neighbours: np.ndarray  # the non-gold passages in each on-topic question's TOP_K


def measure(spec: ModelSpec) -> Scores:
    """Embed the passages and questions with `spec` (as the project does) and collect the similarities."""
    model = embedding_model(spec)
    passages = rows("passages.jsonl")
    ids = [p["id"] for p in passages]
    # The two tasks index the passages as the README's table says: `para` whole, `lex` without the
    # question's own first sentence.
    tasks = {
        "queries_para.jsonl": [f"{p['name']}\n{p['summary']} {p['body']}" for p in passages],
        "queries_lex.jsonl": [f"{p['name']}\n{p['body']}" for p in passages],
    }
    answers, neighbours = [], []
    for file, texts in tasks.items():
        questions = rows(file)
        similarity = _embed(spec, model, [q["query"] for q in questions]) @ _embed(spec, model, texts).T
        for row, question in zip(similarity, questions, strict=True):
            gold = ids.index(question["gold"])
            answers.append(row[gold])
            neighbours += [row[i] for i in np.argsort(-row)[:TOP_K] if i != gold]
    off = (
        _embed(spec, model, [q["query"] for q in rows("queries_off.jsonl")])
        @ _embed(spec, model, tasks["queries_para.jsonl"]).T
    )
    off_topic = np.sort(off, axis=1)[:, -TOP_K:].ravel()
    return Scores(np.asarray(answers), off_topic, np.asarray(neighbours))


def _embed(spec: ModelSpec, model: object, texts: list[str]) -> np.ndarray:
    with Payer().admit(spec, texts) as bill:  # no store: nothing is charged
        return embed_texts(spec, model, texts, bill).vectors  # type: ignore[arg-type]


def floor_of(scores: Scores) -> float:
    """The threshold with the highest (share of answers ≥ t) − (share of off-topic results ≥ t)."""
    grid = np.round(np.arange(-1.0, 1.0001, 0.01), 2)
    youden = [(scores.answers >= t).mean() - (scores.off_topic >= t).mean() for t in grid]
    return float(grid[int(np.argmax(youden))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embed", default="wordllama-256", help="embedding model key")
    parser.add_argument("--models-file", default=None)
    args = parser.parse_args()
    spec = load_specs(args.models_file)[args.embed]
    scores = measure(spec)
    floor = floor_of(scores)
    print(
        f"{spec.key}: {len(scores.answers)} answers, {len(scores.off_topic)} off-topic results (top {TOP_K})"
    )
    for name, values in (("answers", scores.answers), ("off-topic top 5", scores.off_topic)):
        cuts = np.percentile(values, [5, 25, 50, 75, 95])
        print(f"  {name:16} similarity p5/p25/p50/p75/p95: " + " / ".join(f"{c:.3f}" for c in cuts))
    print(f"  floor (highest Youden's J on a 0.01 grid): {floor:.2f}")
    print(f"  answers at or above it:            {(scores.answers >= floor).mean():.1%}")
    print(f"  off-topic results marked weak:     {(scores.off_topic < floor).mean():.1%}")
    print(f"  same-subject neighbours marked weak: {(scores.neighbours < floor).mean():.1%}")
    print(f"\nmodels file, [models.{spec.key}]: relevance_floor = {floor:.2f}")


if __name__ == "__main__":
    main()
