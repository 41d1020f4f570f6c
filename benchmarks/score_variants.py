"""Which confidence score ranks best: candidate region and task scores from the token
log-probabilities of a quality row's answers, each with its AUROC, on the same spans.

It reads the answers from the response cache that benchmarks.quality filled under DATA_DIR (no LLM
calls), so it runs where the quality rows ran; its figures land in benchmarks/results/score_variants.json.

    .venv/bin/python -m benchmarks.score_variants wikigold wnut17
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
import typer

from reversener.align import align
from reversener.confidence import mention_logprobs
from reversener.errors import ParseError
from reversener.evaluation import gold_types, pick_sentences, shots_shown
from reversener.library import ExampleLibrary
from reversener.metrics import auroc
from reversener.parse import parse_mentions
from reversener.readers import read_conll
from reversener.recognizer import Recognizer
from reversener.runtime import Runtime
from reversener.settings import Settings
from reversener.types import Mention

from .common import DATASETS, RESULTS, read_json, write_json
from .quality import DEFAULT_SAMPLE, result_path

# name: (log-probabilities of the name's tokens, of its type's tokens) -> score
REGION_SCORES = {
    "name, least likely token": lambda name, kind: min(name),
    "name, mean": lambda name, kind: float(np.mean(name)),
    "name, first token": lambda name, kind: name[0],
    "name, product": lambda name, kind: sum(name),
    "type, product": lambda name, kind: sum(kind),
    "name and type, least likely token": lambda name, kind: min(name + kind),
    "name and type, product (default)": lambda name, kind: sum(name) + sum(kind),
}
TASK_SCORES = {
    "answer, least likely token (default)": lambda lps, regions: min(lps),
    "answer, product": lambda lps, regions: sum(lps),
    "answer, mean": lambda lps, regions: float(np.mean(lps)),
    "weakest region": lambda lps, regions: min(regions, default=0.0),
    "fewer entities (no log-probabilities)": lambda lps, regions: -len(regions),
}


def run(datasets: Annotated[list[str], typer.Argument(help=f"Some of {', '.join(DATASETS)}.")],
        sample: int = DEFAULT_SAMPLE) -> None:
    figures = read_json(RESULTS / "score_variants.json", {})
    runtime = Runtime(Settings())
    try:
        for dataset in datasets:
            results = read_json(result_path(dataset, sample)) or {}
            gold = pick_sentences(read_conll(DATASETS[dataset]), sample=sample, seed=results.get("seed", 0))
            for name, row in results.get("rows", {}).items():
                if row.get("settings") == {} and (found := _measure(runtime, gold, row)):
                    figures.setdefault(dataset, {})[name] = found
    finally:
        runtime.close()
    write_json(RESULTS / "score_variants.json", figures)
    for dataset, rows in figures.items():
        for name, found in rows.items():
            print(f"\n{dataset}, {name}: {found['regions']} regions, {found['tasks']} tasks "
                  f"({found['not_cached']} not in the cache)")
            for variant, value in found["region_auroc"].items():
                print(f"  region  {variant:40s} AUROC {value:.3f}")
            for variant, value in found["task_auroc"].items():
                print(f"  task    {variant:40s} AUROC {value:.3f}")


def _measure(runtime: Runtime, gold, row: dict) -> dict | None:
    """AUROC of every candidate on one row's cached answers to its recorded requests; None if the
    cache holds none of them. A text the recognizer split into chunks has no single answer and is left out."""
    library = ExampleLibrary.from_dict(row["library"]) if "library" in row else None
    types = gold_types(gold)
    recognizer = Recognizer(runtime.llm, runtime.embedder, types, library, runtime.settings.method())
    regions, tasks, missing = [], [], 0
    for sentence, ids in zip(gold, row["per_sentence"]["demonstrations"], strict=True):
        reply = runtime.llm.cached(recognizer.request(sentence.text, shots_shown(library, ids)))
        if reply is None or not reply.completions[0].logprobs:
            missing += 1
            continue
        answer = reply.completions[0]
        try:
            mentions = parse_mentions(answer.text, types)
        except ParseError:
            continue
        tokens = mention_logprobs(answer.text, answer.logprobs, mentions)
        # Align with the mention's index as its score, to find each span's tokens again.
        indexed = [Mention(m.text, m.type, float(i)) for i, m in enumerate(mentions)]
        truth = {s.key for s in sentence.spans}
        spans = [(tokens[int(s.score)], s.key in truth) for s in align(sentence.text, indexed)
                 if tokens[int(s.score)] is not None]
        regions += spans
        region_scores = [math.exp(sum(name) + sum(kind)) for (name, kind), _ in spans]
        predicted = {s.key for s in align(sentence.text, mentions)}
        tasks.append(([lp for _, lp in answer.logprobs], region_scores, predicted == truth))
    if not tasks:
        return None
    correct = np.array([ok for _, ok in regions], dtype=bool)
    exact = np.array([ok for *_, ok in tasks], dtype=bool)
    return {
        "regions": len(regions), "tasks": len(tasks), "not_cached": missing,
        "region_auroc": {name: auroc(np.array([f(*t) for t, _ in regions], dtype=float), correct)
                         for name, f in REGION_SCORES.items()},
        "task_auroc": {name: auroc(np.array([f(lps, rs) for lps, rs, _ in tasks], dtype=float), exact)
                       for name, f in TASK_SCORES.items()},
    }


if __name__ == "__main__":
    typer.run(run)
