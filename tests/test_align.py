"""Tests for reversener.align: mentions to exact character spans."""

from __future__ import annotations

import pytest

from reversener.align import align, find_all
from reversener.types import Mention, Span


def texts(text: str, spans: list[Span]) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.label) for s in spans]


def test_single_mention():
    text = "John Smith lives in Paris."
    spans = align(text, [Mention("Paris", "LOC")])
    assert spans == [Span(20, 25, "LOC")]
    assert spans[0].score is None  # the mention had no score to pass on
    assert align(text, [Mention("Paris", "LOC", score=0.4)])[0].score == 0.4


def test_every_occurrence_of_repeated_mention():
    text = "Paris is big. I love Paris. Paris!"
    spans = align(text, [Mention("Paris", "LOC")])
    assert [s.start for s in spans] == [0, 21, 28]
    assert texts(text, spans) == [("Paris", "LOC")] * 3


def test_spans_sorted_by_start():
    text = "Rome and Paris and Rome"
    spans = align(text, [Mention("Paris", "LOC"), Mention("Rome", "LOC")])
    assert [s.start for s in spans] == sorted(s.start for s in spans)
    assert texts(text, spans) == [("Rome", "LOC"), ("Paris", "LOC"), ("Rome", "LOC")]


def test_longest_match_wins():
    text = "She moved to New York City last year."
    spans = align(text, [Mention("New York", "LOC"), Mention("New York City", "LOC")])
    assert texts(text, spans) == [("New York City", "LOC")]


def test_contained_mention_dropped_where_inside_but_kept_elsewhere():
    text = "New York is not York."
    spans = align(text, [Mention("York", "LOC"), Mention("New York", "LOC")])
    assert texts(text, spans) == [("New York", "LOC"), ("York", "LOC")]
    assert spans[1].start == 16


def test_partial_overlap_longer_wins():
    text = "Bank of America Tower"
    spans = align(text, [Mention("Bank of America", "ORG"), Mention("America Tower", "LOC")])
    assert texts(text, spans) == [("Bank of America", "ORG")]


def test_same_span_two_types_first_mention_wins():
    text = "Jordan played well."
    spans = align(text, [Mention("Jordan", "PER"), Mention("Jordan", "LOC")])
    assert spans == [Span(0, 6, "PER")]
    spans = align(text, [Mention("Jordan", "LOC"), Mention("Jordan", "PER")])
    assert spans == [Span(0, 6, "LOC")]


def test_word_boundaries():
    text = "Anna met Ann."
    assert texts(text, align(text, [Mention("Ann", "PER")])) == [("Ann", "PER")]
    assert align(text, [Mention("Ann", "PER")])[0].start == 9
    assert align("Annabel", [Mention("Ann", "PER")]) == []
    assert align("JoAnn", [Mention("Ann", "PER")]) == []


def test_punctuation_entities():
    text = "the U.S. army uses C++ is fine, and C++."
    spans = align(text, [Mention("U.S.", "LOC"), Mention("C++", "MISC")])
    assert texts(text, spans) == [("U.S.", "LOC"), ("C++", "MISC"), ("C++", "MISC")]


def test_find_all():
    assert find_all("Ann and Anna and Ann", "Ann") == [(0, 3), (17, 20)]
    assert find_all("the U.S. army", "U.S.") == [(4, 8)]
    assert find_all("C++ is", "C++") == [(0, 3)]
    assert find_all("ann", "Ann") == []
    assert find_all("anything", "") == []
    assert find_all("", "Ann") == []


def test_invented_mention_dropped():
    text = "John lives in Paris."
    spans = align(text, [Mention("London", "LOC"), Mention("Paris", "LOC")])
    assert texts(text, spans) == [("Paris", "LOC")]


def test_case_insensitive_fallback():
    text = "the european union met in BRUSSELS."
    spans = align(text, [Mention("European Union", "ORG"), Mention("Brussels", "LOC")])
    assert texts(text, spans) == [("european union", "ORG"), ("BRUSSELS", "LOC")]


def test_exact_case_preferred_over_fallback():
    text = "Apple sells apple juice."
    spans = align(text, [Mention("Apple", "ORG")])
    assert spans == [Span(0, 5, "ORG")]


def test_whitespace_run_fallback():
    text = "He flew to New  York and then to San\nFrancisco."
    spans = align(text, [Mention("New York", "LOC"), Mention("San  Francisco", "LOC")])
    assert texts(text, spans) == [("New  York", "LOC"), ("San\nFrancisco", "LOC")]


def test_non_ascii_offsets():
    text = "Zoë in München"
    spans = align(text, [Mention("Zoë", "PER"), Mention("München", "LOC")])
    assert spans == [Span(0, 3, "PER"), Span(7, 14, "LOC")]
    assert texts(text, spans) == [("Zoë", "PER"), ("München", "LOC")]


def test_cjk_offsets():
    text = "東京 and 大阪"
    spans = align(text, [Mention("東京", "LOC"), Mention("大阪", "LOC")])
    assert spans == [Span(0, 2, "LOC"), Span(7, 9, "LOC")]
    assert texts(text, spans) == [("東京", "LOC"), ("大阪", "LOC")]


def test_cjk_without_spaces():
    text = "我住在東京。"
    spans = align(text, [Mention("東京", "LOC")])
    assert texts(text, spans) == [("東京", "LOC")]


def test_emoji_before_entity():
    text = "🎉🎉 Paris is nice"
    spans = align(text, [Mention("Paris", "LOC")])
    assert spans == [Span(3, 8, "LOC")]
    assert text[spans[0].start : spans[0].end] == "Paris"


def test_accented_letter_is_part_of_word():
    assert align("Renée", [Mention("Ren", "PER")]) == []
    assert align("Zoe\u0308 sings", [Mention("Zoe", "PER")]) == []


@pytest.mark.parametrize("mentions", [[], [Mention("Paris", "LOC")]])
def test_empty_text(mentions):
    assert align("", mentions) == []


def test_no_mentions():
    assert align("John lives in Paris.", []) == []


def test_empty_mention_text_ignored():
    assert align("John lives in Paris.", [Mention("", "PER"), Mention("  ", "PER")]) == []
