"""Step 7: entity-level self-consistency, a vote per (span, type) across sampled answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .types import Span

__all__ = ["vote"]


def vote(samples: Sequence[Sequence[Span]], threshold: float) -> list[Span]:
    """Spans whose vote share reaches `threshold`, scored by that share, without overlaps.

    An unusable answer still counts as a sample that voted for nothing. Where kept spans overlap,
    the better-supported (then the longer) one wins.
    """
    if not samples:
        return []
    votes = Counter(span.key for answer in samples for span in set(answer))
    total = len(samples)
    candidates = [
        Span(start, end, label, score=count / total)
        for (start, end, label), count in votes.items()
        if count / total >= threshold - 1e-9
    ]
    candidates.sort(key=lambda s: (-votes[s.key], -(s.end - s.start), s.start, s.label))
    kept: list[Span] = []
    for span in candidates:
        if all(span.end <= other.start or span.start >= other.end for other in kept):
            kept.append(span)
    return sorted(kept)
