"""Thresholds per type learned from what annotators kept and deleted of the LLM's scored regions."""

from __future__ import annotations

from reversener.thresholds import Scored, Thresholds, grid, missed_types, scored_record
from reversener.types import Span


def correction(loc_score: float, loc_kept: bool) -> Scored:
    """One corrected task: a right PER region scored 0.9, and a LOC region the annotator kept or deleted."""
    return Scored((("PER", 0.9, True), ("LOC", loc_score, loc_kept)), {"PER": 1, "LOC": int(loc_kept)})


def test_the_grid_starts_at_min_score():
    assert grid(0.25)[:3] == (0.25, 0.3, 0.35) and grid(0.25)[-1] == 0.9
    assert grid(0.95) == (0.95,)


def test_a_type_whose_unsure_regions_annotators_delete_gets_a_higher_threshold():
    records = [correction(0.3, False) for _ in range(20)] + [correction(0.8, True) for _ in range(10)]
    learned = Thresholds.learn(records, min_score=0.25, minimum=25)
    assert learned.raised == {"LOC": 0.35}  # the lowest that drops every deleted region; PER untouched
    assert learned.judged == {"LOC", "PER"}
    kept = learned.apply([Span(0, 3, "LOC", 0.3), Span(4, 7, "LOC", 0.8), Span(8, 9, "PER", 0.3),
                          Span(10, 12, "LOC", None)])
    assert kept == [Span(4, 7, "LOC", 0.8), Span(8, 9, "PER", 0.3), Span(10, 12, "LOC", None)]
    assert learned and len(learned.digest()) == 6 and learned.digest() == Thresholds({"LOC": 0.35}).digest()


def test_nothing_is_raised_before_enough_corrections_or_on_mixed_evidence():
    few = [correction(0.3, False) for _ in range(24)]
    assert not Thresholds.learn(few, min_score=0.25, minimum=25).judged  # not weighed at all
    # Half the unsure LOC regions were right: dropping them would lose as much as it gains.
    mixed = [correction(0.3, i % 2 == 0) for i in range(40)]
    left = Thresholds.learn(mixed, min_score=0.25, minimum=25)
    assert not left and left.judged == {"LOC", "PER"}  # weighed and left


def test_a_gain_that_two_corrections_carry_is_not_enough():
    records = [correction(0.8, True) for _ in range(28)] + [correction(0.3, False) for _ in range(2)]
    assert not Thresholds.learn(records, min_score=0.25, minimum=25)


def test_a_correction_says_which_scored_regions_were_kept():
    answer = [Span(0, 4, "PER", 0.9), Span(9, 14, "PER", 0.4), Span(20, 24, "ORG", None)]
    annotated = [Span(0, 4, "PER"), Span(9, 14, "LOC")]
    record = scored_record(answer, annotated)
    assert record.regions == (("PER", 0.9, True), ("PER", 0.4, False), ("ORG", None, False))
    assert record.gold == {"PER": 1, "LOC": 1}


def test_the_types_the_model_misses_are_those_it_found_less_than_half_of():
    def record(found_misc: bool) -> Scored:
        return Scored((("PER", 0.9, True),) + ((("MISC", None, True),) if found_misc else ()),
                      {"PER": 1, "MISC": 1, "LOC": 1})
    records = [record(False), record(False), record(True), record(False)]  # MISC 1 of 4, LOC 0 of 4
    assert missed_types(records) == ["LOC", "MISC"]
    assert missed_types(records[:2]) == []  # fewer than 3 corrected regions of a type: no verdict
