"""One name, one label within a text: what each chunk's answer said about a name, settled for all of it.

Each chunk of a text is asked on its own, so one paragraph can come back with a club labeled LOC in
one sentence and ORG in the next, or labeled in one sentence and skipped in another. Here every
occurrence of a name (its exact surface string) takes the type its occurrences' scores favour, and
the name's unlabeled occurrences are labeled too where the LLM was sure enough of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .align import find_all
from .types import Span

__all__ = ["reconcile"]

_MIN_NAME = 2  # a one-character "name" would label every lone letter or digit of the text


def reconcile(text: str, spans: Sequence[Span], min_score: float) -> list[Span]:
    """The spans of one text with a single type per name and, for a name whose label scored at least
    `min_score` (or carries no score), its other occurrences on word boundaries (case as written)
    that overlap no span. A span's weight in the vote is its score (1 if unscored); a relabeled or
    added occurrence takes the best score among the winning type's spans. Pure: no LLM, no state."""
    by_name: dict[str, list[Span]] = defaultdict(list)
    for span in sorted(spans):
        by_name[text[span.start : span.end]].append(span)
    settled: list[Span] = []
    winners: dict[str, Span] = {}
    for name, group in by_name.items():
        best = _winner(group)
        winners[name] = best
        settled += [s if s.label == best.label else Span(s.start, s.end, best.label, best.score) for s in group]
    taken = bytearray(len(text))
    for span in settled:
        taken[span.start : span.end] = b"\x01" * (span.end - span.start)
    for name in sorted(winners, key=lambda n: (-len(n), n)):  # longest first: "Real Madrid" before "Madrid"
        best = winners[name]
        if len(name.strip()) < _MIN_NAME or _weight(best) < min_score - 1e-9:
            continue
        for start, end in find_all(text, name):
            if not any(taken[start:end]):
                taken[start:end] = b"\x01" * (end - start)
                settled.append(Span(start, end, best.label, best.score))
    return sorted(settled)


def _winner(group: Sequence[Span]) -> Span:
    """The best-scored span of the type with the most weight (ties: the higher best score, then the
    type seen first): its label and score are the name's."""
    weight: dict[str, float] = defaultdict(float)
    best: dict[str, Span] = {}
    for span in group:
        weight[span.label] += _weight(span)
        if span.label not in best or _weight(span) > _weight(best[span.label]):
            best[span.label] = span
    first: dict[str, int] = {}
    for k, span in enumerate(group):
        first.setdefault(span.label, k)
    label = max(weight, key=lambda t: (weight[t], _weight(best[t]), -first[t]))
    return best[label]


def _weight(span: Span) -> float:
    return 1.0 if span.score is None else span.score
