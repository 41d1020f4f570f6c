"""Zero-shot against ReverseNER on gold data, with the cost of each from the LLM counters."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .builder import BuildReport, build_library
from .confidence import above, task_score, weakest
from .config import MethodConfig
from .definitions import resolve_types
from .embeddings import Embedder
from .library import ExampleLibrary
from .llm.client import LLMClient, LLMReply, LLMRequest, Progress
from .metrics import auroc, bootstrap_f1, calibration, evaluate, sentence_counts
from .recognizer import FAILED, Prediction, Recognizer
from .types import Example, Sentence, Span

__all__ = ["EvalRow", "pick_sentences", "run_mode", "cost", "scores", "eval_library", "per_sentence",
           "sentences_from", "replay", "shots_shown", "compose", "at_min_score"]

ProgressFactory = Callable[[str, int], Progress]
THRESHOLDS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)  # score cut-offs a row reports precision and recall at


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
    per_type_counts: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    build: dict | None = field(default=None)
    per_sentence: dict = field(default_factory=dict)  # what was predicted, sentence by sentence
    at_min_score: dict = field(default_factory=dict)  # the quality fields once the default MIN_SCORE drops regions

    @classmethod
    def of(cls, mode: str, gold: Sequence[Sentence], per_sentence: dict, stats: dict[str, float],
           wall_seconds: float, build: dict | None) -> EvalRow:
        """A row from its sentence-by-sentence predictions (see `per_sentence`) and the LLM counters."""
        predicted = sentences_from(gold, per_sentence)
        quality = scores(gold, predicted)
        calibrated = calibration(gold, predicted, THRESHOLDS)
        calibrated["answer_auroc"] = _answer_auroc(quality["sentence_counts"], per_sentence["answer_scores"])
        spent = cost(stats, len(gold), sum(len(g.text) for g in gold))
        return cls(mode=mode, sentences=len(gold), **quality, calibration=calibrated, cost=spent,
                   wall_seconds=wall_seconds, build=build, per_sentence=per_sentence,
                   at_min_score=at_min_score(gold, predicted))

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
            "sentence_counts": sentence_counts(gold, predicted),
            "per_type_counts": {t: sentence_counts(gold, predicted, t) for t in report.per_type}}


def at_min_score(gold: Sequence[Sentence], predicted: Sequence[Sentence],
                 threshold: float = MethodConfig().min_score) -> dict:
    """A row's quality fields as a user with the default MIN_SCORE gets them: rows keep every region
    (so each threshold can be read from one row), the backend drops those below it."""
    kept = [Sentence(p.text, tuple(above(p.spans, threshold))) for p in predicted]
    return {"min_score": threshold} | scores(gold, kept)


def _answer_auroc(counts: Sequence[Sequence[int]], answer_scores: Sequence[float | None]) -> float | None:
    """AUROC of the answer score for "this sentence's prediction is exactly right": does sorting
    tasks by it put those needing review first?"""
    known = [(score, fp == fn == 0) for (_, fp, fn), score in zip(counts, answer_scores, strict=True)
             if score is not None]
    return auroc(np.array([s for s, _ in known], dtype=float), np.array([ok for _, ok in known], dtype=bool))


def cost(stats: dict[str, float], sentences: int, characters: int | None = None) -> dict[str, float]:
    """Per-sentence LLM cost, and with the texts' `characters` the tokens per 1,000 characters (what a
    user's corpus of any text length will cost); answers from the cache count at what they cost when made."""
    n = max(1, sentences)
    prompt = stats["prompt_tokens"] + stats["cached_prompt_tokens"]
    completion = stats["completion_tokens"] + stats["cached_completion_tokens"]
    per_1k_chars = {} if not characters else {"prompt_tokens_per_1k_chars": 1000 * prompt / characters,
                                               "completion_tokens_per_1k_chars": 1000 * completion / characters}
    return {
        "calls_per_sentence": (stats["calls"] + stats["cache_hits"]) / n,
        "prompt_tokens_per_sentence": prompt / n,
        "completion_tokens_per_sentence": completion / n,
        "llm_seconds_per_sentence": (stats["seconds"] + stats["cached_seconds"]) / n,
        "fresh_calls": stats["calls"],
        "failures": stats["failures"],
    } | per_1k_chars


def gold_types(gold: Sequence[Sentence], definitions: dict[str, str] | None = None) -> dict[str, str]:
    """The gold data's entity types with their definitions."""
    return resolve_types(sorted({s.label for g in gold for s in g.spans}), definitions)


def eval_library(
    gold: Sequence[Sentence], llm: LLMClient, embedder: Embedder, config: MethodConfig,
    *, definitions: dict[str, str] | None = None, progress: ProgressFactory | None = None,
) -> tuple[ExampleLibrary, dict]:
    """A library built from the gold texts (their words only, never their labels), and what its build
    did and cost, as a row reports it."""
    before = llm.stats.snapshot()
    library, build = build_library([g.text for g in gold], gold_types(gold, definitions), llm, embedder, config,
                                   on_step=progress)
    return library, _build_dict(build, llm.stats.since(before))


def per_sentence(predictions: Sequence[Prediction]) -> dict:
    """Each sentence's spans ([start, end, label, score]), answer score, demonstrations and error:
    kept in a row so that two rows can be compared sentence by sentence."""
    return {"spans": [_span_rows(p.spans) for p in predictions],
            "answer_scores": [p.score for p in predictions], "confidences": [p.confidence for p in predictions],
            "demonstrations": [list(p.demonstrations) for p in predictions],
            "errors": [p.error for p in predictions]}


def replay(recognizer: Recognizer, library: ExampleLibrary | None, gold: Sequence[Sentence], recorded: dict,
           cached: Callable[[LLMRequest], LLMReply | None]) -> tuple[dict, int]:
    """A row's per-sentence record read again from the LLM's cached answers to the very requests it
    made (its recorded demonstrations, in order), with the current parser and scorer: no LLM call,
    no embedding. A sentence whose answer is not cached (split into chunks, or another machine's
    cache) keeps its record. Returns the record and how many sentences were read again."""
    out = {key: list(values) for key, values in recorded.items()}
    replayed = 0
    for i, (sentence, ids) in enumerate(zip(gold, recorded["demonstrations"], strict=True)):
        requests = recognizer.requests_for(sentence.text, shots_shown(library, ids))
        replies = [reply for reply in map(cached, requests) if reply is not None]
        if len(replies) < len(requests):
            continue
        spans, _, confidence, error = recognizer.read_replies(sentence.text, replies)
        spans = [] if error else recognizer.settled(sentence.text, spans)
        out["spans"][i] = [] if error else _span_rows(sorted(spans))
        out["confidences"][i] = None if error else confidence
        out["answer_scores"][i] = None if error else task_score(confidence, spans)
        out["errors"][i] = error
        replayed += 1
    return out, replayed


def compose(recognizer: Recognizer, parts: Sequence[dict], texts: Sequence[str]) -> dict:
    """The per-sentence record of a method whose requests for a sentence are exactly those of finished
    rows (`parts`, in `requests_for` order; COMBINE_ZERO_SHOT: the ReverseNER row's, then the
    zero-shot row's), their spans merged as the recognizer merges its replies (and settles them over
    each sentence's text, `texts`): no LLM call. A sentence
    whose LLM call failed in a part fails; an answer that could not be read leaves the others' spans."""
    out: dict[str, list] = {"spans": [], "answer_scores": [], "confidences": [], "demonstrations": [], "errors": []}
    for i in range(len(parts[0]["spans"])):
        errors = [part["errors"][i] for part in parts]
        failed = next((e for e in errors if e and e.startswith(FAILED)), None)
        error = failed or (errors[0] if all(errors) else None)
        found = [recognizer.confident([Span(*row) for row in part["spans"][i]]) for part in parts]
        spans = [] if error else sorted(recognizer.settled(texts[i], recognizer.joined(found)))
        confidence = None if error else weakest([part["confidences"][i] for part in parts])
        out["spans"].append(_span_rows(spans))
        out["confidences"].append(confidence)
        out["answer_scores"].append(task_score(confidence, spans))
        out["demonstrations"].append([d for part in parts for d in part["demonstrations"][i]])
        out["errors"].append(error)
    return out


def shots_shown(library: ExampleLibrary | None, ids: Sequence[str]) -> list[Example]:
    """The demonstrations a record names, in its order (ids the library no longer holds are skipped)."""
    if library is None:
        return []
    return [shot for shot in (library.get(example_id) for example_id in ids) if shot is not None]


def _span_rows(spans: Sequence[Span]) -> list[list]:
    return [[s.start, s.end, s.label, s.score] for s in spans]


def sentences_from(gold: Sequence[Sentence], recorded: dict) -> list[Sentence]:
    """The predicted sentences of a row's `per_sentence` record."""
    return [Sentence(g.text, tuple(Span(a, b, label, score) for a, b, label, score in spans))
            for g, spans in zip(gold, recorded["spans"], strict=True)]


def run_mode(
    mode: str, gold: Sequence[Sentence], llm: LLMClient, embedder: Embedder, config: MethodConfig,
    *, definitions: dict[str, str] | None = None, progress: ProgressFactory | None = None,
    library: ExampleLibrary | None = None,
) -> tuple[EvalRow, ExampleLibrary | None]:
    """Evaluate `zero-shot` or `reversener`; for the latter, build the library unless one is given."""
    if mode not in ("zero-shot", "reversener"):
        raise ValueError(f"unknown mode {mode!r}: use 'zero-shot' or 'reversener'")
    started, before = time.monotonic(), llm.stats.snapshot()
    build = None
    if mode == "reversener" and library is None:
        library, build = eval_library(gold, llm, embedder, config, definitions=definitions, progress=progress)
    recognizer = Recognizer(llm, embedder, gold_types(gold, definitions),
                            library if mode == "reversener" else None, config)
    predictions = recognizer.recognize([g.text for g in gold], progress(mode, len(gold)) if progress else None)
    row = EvalRow.of(mode, gold, per_sentence(predictions), llm.stats.since(before), time.monotonic() - started, build)
    return row, library


def _build_dict(build: BuildReport, build_cost: dict[str, float]) -> dict:
    return {"feature_sentences": len(build.feature_sentences),
            "entities": {t: len(v) for t, v in build.entities.items()},
            "planned": build.planned, "kept": build.kept, "rejected": dict(build.rejected),
            "cost": cost(build_cost, 1) | {"per": "build"}}
