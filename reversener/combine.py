"""Merging two answers for one text: the zero-shot one and the one with demonstrations."""

from __future__ import annotations

from collections.abc import Sequence

from .types import Span

__all__ = ["combine", "RULES"]

RULES = ("union", "few-first", "zero-first")


def combine(zero: Sequence[Span], few: Sequence[Span], rule: str, threshold: float) -> list[Span]:
    """Spans both answers give are kept; a span only one gives is kept if its score reaches
    `threshold` and, by `rule`, nothing preferred overlaps it: `union` prefers the better score,
    `few-first` the answer with demonstrations, `zero-first` the zero-shot one. A kept span's score
    is the mean of the two answers' scores for it, an answer without it counting 0 (a vote share
    weighted by confidence): it ranked regions better than the higher score on both data sets
    (docs/method.md, Confidence scores)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}: use one of {RULES}")
    zero_keys, few_keys = {s.key: s for s in zero}, {s.key: s for s in few}
    agreed = [_better(zero_keys[k], few_keys[k]) for k in zero_keys.keys() & few_keys.keys()]
    alone = [s for keys, other in ((zero_keys, few_keys), (few_keys, zero_keys))
             for k, s in keys.items() if k not in other and _score(s) >= threshold - 1e-9]
    first = {"few-first": few_keys, "zero-first": zero_keys}.get(rule)

    def rank(span: Span):
        preferred = first is not None and span.key in first
        return (not preferred, -_score(span), span.start - span.end, span.start, span.label)

    kept: list[Span] = []
    for span in sorted(agreed, key=rank) + sorted(alone, key=rank):
        if all(span.end <= other.start or span.start >= other.end for other in kept):
            kept.append(span)
    return sorted(Span(s.start, s.end, s.label, _mean_score(s.key, zero_keys, few_keys)) for s in kept)


def _mean_score(key: tuple, *answers: dict[tuple, Span]) -> float:
    """An unscored span counts 1 where given, as a vote; the score only ranks, nothing is dropped by it."""
    return sum(_score(answer[key]) if key in answer else 0.0 for answer in answers) / len(answers)


def _better(a: Span, b: Span) -> Span:
    return a if _score(a) >= _score(b) else b


def _score(span: Span) -> float:
    return 1.0 if span.score is None else span.score
