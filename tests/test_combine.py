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


def test_what_both_say_is_kept_and_unsure_loners_are_dropped_scored_by_the_mean_of_both_answers():
    merged = combine([ANNA_ZERO, ROME_ZERO], [ANNA_FEW, ROME_FEW, BOB_FEW], "union", 0.5)
    # Anna: both answers (0.9, 0.6); Rome as ORG: the few-shot answer alone, the zero-shot one counts 0.
    assert [(s.key, s.score) for s in merged] == [((0, 4, "PER"), pytest.approx(0.75)),
                                                  ((10, 14, "ORG"), pytest.approx(0.4))]


def test_unscored_spans_count_as_votes():
    anna, rome = Span(0, 4, "PER"), Span(10, 14, "LOC")
    assert [s.score for s in combine([anna, rome], [anna], "union", 0.5)] == [1.0, 0.5]


def test_the_preferred_answer_wins_an_overlap_whatever_the_scores():
    assert [s.key for s in combine([ROME_ZERO], [ROME_FEW], "zero-first", 0.0)] == [ROME_ZERO.key]
    assert [s.key for s in combine([ROME_ZERO], [ROME_FEW], "few-first", 0.0)] == [ROME_FEW.key]
    assert [s.key for s in combine([ROME_ZERO], [ROME_FEW], "union", 0.0)] == [ROME_FEW.key]


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown rule"):
        combine([], [], "both", 0.5)
