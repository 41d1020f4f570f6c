"""Tests for reversener.consistency: the entity-level self-consistency vote."""

from __future__ import annotations

import pytest

from reversener.consistency import vote
from reversener.types import Span

ANNA = Span(0, 4, "PER")
ROME = Span(14, 18, "LOC")
ROME_AS_ORG = Span(14, 18, "ORG")


def scored(spans: list[Span]) -> list[tuple[int, int, str, float]]:
    return [(s.start, s.end, s.label, s.score) for s in spans]


def test_single_sample_passes_spans_through():
    spans = vote([[ROME, ANNA]], threshold=0.5)
    assert scored(spans) == [(0, 4, "PER", 1.0), (14, 18, "LOC", 1.0)]


def test_single_empty_sample_gives_nothing():
    assert vote([[]], threshold=0.5) == []


def test_empty_input():
    assert vote([], threshold=0.5) == []


def test_share_is_the_score():
    samples = [[ANNA, ROME], [ANNA, ROME], [ANNA], [ANNA]]
    assert scored(vote(samples, threshold=0.5)) == [(0, 4, "PER", 1.0), (14, 18, "LOC", 0.5)]


@pytest.mark.parametrize(
    "samples, threshold, kept",
    [
        ([[ANNA], []], 0.5, [ANNA]),  # exactly the threshold is kept
        ([[ANNA], [], []], 0.5, []),  # 1/3 is below it
        ([[ANNA], [ANNA], []], 2 / 3, [ANNA]),  # 2/3 against a float threshold of 2/3
        ([[ANNA], [ANNA], [], [], []], 0.4, [ANNA]),
        ([[ANNA], [ANNA], [], [], []], 0.41, []),
    ],
)
def test_threshold_edge(samples, threshold, kept):
    assert vote(samples, threshold) == kept


def test_empty_answer_counts_as_a_sample():
    # Anna has 2 votes out of 3 samples, not 2 out of 2
    spans = vote([[ANNA], [ANNA], []], threshold=0.5)
    assert spans == [ANNA]
    assert spans[0].score == pytest.approx(2 / 3)
    assert vote([[ANNA], [ANNA], [], []], threshold=0.6) == []


def test_same_span_twice_in_one_answer_is_one_vote():
    spans = vote([[ANNA, ANNA], [], []], threshold=0.5)
    assert spans == []


def test_same_offsets_different_type_are_separate_candidates():
    spans = vote([[ROME], [ROME], [ROME_AS_ORG]], threshold=0.3)
    assert scored(spans) == [(14, 18, "LOC", pytest.approx(2 / 3))]


def test_overlap_goes_to_higher_share():
    new_york = Span(0, 8, "LOC")
    new_york_times = Span(0, 14, "ORG")
    samples = [[new_york], [new_york], [new_york_times]]
    assert vote(samples, threshold=0.3) == [new_york]


def test_overlap_with_equal_share_goes_to_longer():
    new_york = Span(0, 8, "LOC")
    new_york_times = Span(0, 14, "ORG")
    times = Span(9, 14, "ORG")
    samples = [[new_york], [new_york_times], [times], [new_york_times, new_york]]
    # new_york 2/4, new_york_times 2/4, times 1/4: the longer of the tied pair wins, times overlaps it
    assert scored(vote(samples, threshold=0.25)) == [(0, 14, "ORG", 0.5)]


def test_non_overlapping_neighbours_both_kept():
    left, right = Span(0, 4, "PER"), Span(4, 9, "PER")  # touching, not overlapping
    assert vote([[left, right]], threshold=1.0) == [left, right]


def test_result_is_sorted_by_position():
    samples = [[Span(20, 25, "LOC"), Span(0, 4, "PER"), Span(10, 14, "ORG")]]
    assert [s.start for s in vote(samples, threshold=1.0)] == [0, 10, 20]
