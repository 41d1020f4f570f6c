"""Zero-shot against ReverseNER on gold data, with the cost of each from the LLM counters."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .builder import BuildReport, build_library
from .config import MethodConfig
from .definitions import resolve_types
from .embeddings import Embedder
from .library import ExampleLibrary
from .llm.client import LLMClient, Progress
from .metrics import bootstrap_f1, evaluate, sentence_counts
from .recognizer import Recognizer
from .types import Sentence

__all__ = ["EvalRow", "pick_sentences", "run_mode", "cost", "scores"]

ProgressFactory = Callable[[str, int], Progress]


@dataclass
class EvalRow:
    """One line of the eval table: quality, its 95% interval, and what it cost per sentence."""

    mode: str
    sentences: int
    precision: float
    recall: float
    f1: float
    f1_interval: tuple[float, float]
    per_type_f1: dict[str, float]
    cost: dict[str, float]
    wall_seconds: float
    sentence_counts: list[tuple[int, int, int]] = field(default_factory=list)  # for paired comparisons
    build: dict | None = field(default=None)

    def as_dict(self) -> dict:
        return asdict(self)


def pick_sentences(sentences: Sequence[Sentence], limit: int | None = None, sample: int | None = None,
                   seed: int = 0, offset: int = 0) -> list[Sentence]:
    """The first `limit` sentences after `offset`, or a seeded random `sample` of them."""
    pool = list(sentences[offset:])
    if sample is not None:
        picks = np.random.default_rng(seed).choice(len(pool), size=min(sample, len(pool)), replace=False)
        return [pool[i] for i in sorted(picks)]
    return pool[:limit] if limit is not None else pool


def scores(gold: Sequence[Sentence], predicted: Sequence[Sentence]) -> dict:
    """Strict micro P/R/F1, F1's bootstrap 95% interval, per-type F1 and the per-sentence counts
    that a paired comparison with another run on the same sentences needs: the quality fields of a row."""
    report = evaluate(gold, predicted)
    return {"precision": report.micro.precision, "recall": report.micro.recall, "f1": report.micro.f1,
            "f1_interval": bootstrap_f1(gold, predicted),
            "per_type_f1": {t: s.f1 for t, s in report.per_type.items()},
            "sentence_counts": sentence_counts(gold, predicted)}


def cost(stats: dict[str, float], sentences: int) -> dict[str, float]:
    """Per-sentence LLM cost; answers from the cache count at what they cost when made."""
    n = max(1, sentences)
    return {
        "calls_per_sentence": (stats["calls"] + stats["cache_hits"]) / n,
        "prompt_tokens_per_sentence": (stats["prompt_tokens"] + stats["cached_prompt_tokens"]) / n,
        "completion_tokens_per_sentence": (stats["completion_tokens"] + stats["cached_completion_tokens"]) / n,
        "llm_seconds_per_sentence": (stats["seconds"] + stats["cached_seconds"]) / n,
        "fresh_calls": stats["calls"],
        "failures": stats["failures"],
    }


def run_mode(
    mode: str, gold: Sequence[Sentence], llm: LLMClient, embedder: Embedder, config: MethodConfig,
    *, definitions: dict[str, str] | None = None, progress: ProgressFactory | None = None,
    library: ExampleLibrary | None = None,
) -> tuple[EvalRow, ExampleLibrary | None]:
    """Evaluate `zero-shot` or `reversener`; for the latter, build the library from the gold texts
    (their words only, never their labels) unless one is given."""
    if mode not in ("zero-shot", "reversener"):
        raise ValueError(f"unknown mode {mode!r}: use 'zero-shot' or 'reversener'")
    types = resolve_types(sorted({s.label for g in gold for s in g.spans}), definitions)
    texts = [g.text for g in gold]
    started, before = time.monotonic(), llm.stats.snapshot()
    build: BuildReport | None = None
    if mode == "reversener" and library is None:
        library, build = build_library(texts, types, llm, embedder, config, on_step=progress)
    build_cost = llm.stats.since(before)
    recognizer = Recognizer(llm, embedder, types, library if mode == "reversener" else None, config)
    predictions = recognizer.recognize(texts, progress(mode, len(texts)) if progress else None)
    row = EvalRow(
        mode=mode, sentences=len(gold), **scores(gold, [p.sentence for p in predictions]),
        cost=cost(llm.stats.since(before), len(gold)), wall_seconds=time.monotonic() - started,
        build=None if build is None else {
            "feature_sentences": len(build.feature_sentences), "entities": {t: len(v) for t, v in build.entities.items()},
            "planned": build.planned, "kept": build.kept, "rejected": dict(build.rejected),
            "cost": cost(build_cost, 1) | {"per": "build"},
        },
    )
    return row, library
