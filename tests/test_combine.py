"""Merging the zero-shot answer with the one given demonstrations."""

from __future__ import annotations

import pytest

from reversener.combine import combine
from reversener.types import Span

ANNA_ZERO = Span(0, 4, "PER", 0.9)
ANNA_FEW = Span(0, 4, "PER", 0.6)
ROME_ZERO = Span(10, 14, "LOC", 0.4)  # zero-shot only, unsure
ROME_FEW = Span(10, 14, "ORG", 0.8)  # same place, another type
BOB_FEW = Span(20, 23, "PER", 0.2)  # few-shot only, unsure


def test_what_both_say_is_kept_with_the_better_score_and_unsure_loners_are_dropped():
    merged = combine([ANNA_ZERO, ROME_ZERO], [ANNA_FEW, ROME_FEW, BOB_FEW], "union", 0.5)
    assert [(s.key, s.score) for s in merged] == [((0, 4, "PER"), 0.9), ((10, 14, "ORG"), 0.8)]


def test_the_preferred_answer_wins_an_overlap_whatever_the_scores():
    assert combine([ROME_ZERO], [ROME_FEW], "zero-first", 0.0) == [ROME_ZERO]
    assert combine([ROME_ZERO], [ROME_FEW], "few-first", 0.0) == [ROME_FEW]
    assert combine([ROME_ZERO], [ROME_FEW], "union", 0.0) == [ROME_FEW]


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown rule"):
        combine([], [], "both", 0.5)
