"""A corrected text split into one human example per chunk the recognizer would ask about."""

from __future__ import annotations

import random

from reversener.config import MethodConfig
from reversener.corrections import split_correction
from reversener.text import chunk_text
from reversener.types import Example, Span

PARAGRAPH = ("Carole Montillet won the downhill in Val d'Isère. Mr. Smith of France was second.\r\n"
             "The race was held on Jan. 5 in thick fog. Organisers had delayed the start twice. "
             "Ajax fans travelled from Amsterdam to watch. Ajax later thanked them.")
NAMES = [("Carole Montillet", "PER"), ("Val d'Isère", "LOC"), ("Smith", "PER"), ("France", "LOC"), ("Ajax", "ORG"),
         ("Amsterdam", "LOC")]


def _labeled(text: str, names=NAMES) -> tuple[Span, ...]:
    spans = []
    for name, label in names:
        start = text.find(name)
        while start != -1:
            spans.append(Span(start, start + len(name), label))
            start = text.find(name, start + 1)
    return tuple(sorted(spans))


def _named(example: Example) -> list[tuple[str, str]]:
    return [(example.text[s.start : s.end], s.label) for s in example.spans]


def test_a_paragraph_becomes_one_example_per_chunk_with_its_spans_rebased():
    correction = Example("ann-7:label", PARAGRAPH, _labeled(PARAGRAPH), "human")
    config = MethodConfig(max_chunk_chars=120, pack_sentences=True)
    parts = split_correction(correction, config)
    chunks = chunk_text(PARAGRAPH, 120)  # exactly the recognizer's chunks: no span crosses a border
    assert [p.text for p in parts] == [PARAGRAPH[start:end] for start, end in chunks] and len(parts) == 3
    assert [p.id for p in parts] == ["ann-7:label#0", "ann-7:label#1", "ann-7:label#2"]
    assert all(p.source == "human" and len(p.text) <= 120 for p in parts)
    assert [pair for p in parts for pair in _named(p)] == _named(correction)
    assert _named(parts[2]) == [("Ajax", "ORG"), ("Amsterdam", "LOC"), ("Ajax", "ORG")]


def test_sentence_level_chunking_gives_one_example_per_sentence():
    correction = Example("a", PARAGRAPH, _labeled(PARAGRAPH), "human")
    parts = split_correction(correction, MethodConfig(pack_sentences=False))
    assert len(parts) == 6 and parts[1].text == "Mr. Smith of France was second."
    assert _named(parts[1]) == [("Smith", "PER"), ("France", "LOC")]


def test_a_text_of_one_chunk_is_the_example_itself_and_a_blank_one_none():
    sentence = Example("a", "Anna met Bob.", (Span(0, 4, "PER"),), "human")
    assert split_correction(sentence, MethodConfig()) == [sentence]
    assert split_correction(Example("b", " \r\n ", (), "human"), MethodConfig()) == []


def test_a_span_across_a_sentence_border_is_never_cut():
    text = "Shares of Yahoo! Inc. fell sharply today. Nothing else moved in the market at all today."
    correction = Example("a", text, _labeled(text, [("Yahoo! Inc.", "ORG")]), "human")
    parts = split_correction(correction, MethodConfig(max_chunk_chars=100, pack_sentences=False))
    assert [p.text for p in parts] == ["Shares of Yahoo! Inc. fell sharply today.",
                                       "Nothing else moved in the market at all today."]
    assert _named(parts[0]) == [("Yahoo! Inc.", "ORG")]


def test_whitespace_a_region_took_beyond_its_chunk_is_clipped():
    text = "Anna met Bob.   Then Oslo slept."
    correction = Example("a", text, (Span(9, 15, "PER"), Span(21, 25, "LOC")), "human")  # "Bob.  " (sloppy)
    parts = split_correction(correction, MethodConfig(max_chunk_chars=100, pack_sentences=False))
    assert [_named(p) for p in parts] == [[("Bob.", "PER")], [("Oslo", "LOC")]]


def test_random_labeled_texts_lose_no_span_and_cut_none():
    rng = random.Random(5)
    words = ["Anna", "met", "the", "fog", "Köln", "👩\u200d👩\u200d👧", "3.", "Mr.", "in", "Yahoo!", "Inc."]
    for _ in range(100):
        text = " ".join(rng.choice(words) + rng.choice(["", "", ".", "\r\n"]) for _ in range(rng.randint(5, 80)))
        names = [("Yahoo! Inc.", "ORG"), ("Anna", "PER"), ("Köln", "LOC")]
        correction = Example("t", text, _labeled(text, names), "human")
        budget = rng.choice([100, 150])
        parts = split_correction(correction, MethodConfig(max_chunk_chars=budget, pack_sentences=rng.random() < 0.5))
        assert sorted(pair for p in parts for pair in _named(p)) == sorted(_named(correction))
        if parts != [correction]:  # split: trimmed pieces of the text, none over the budget
            assert all(p.text.strip() == p.text and p.text in text and len(p.text) <= budget for p in parts)


def test_each_part_counts_what_the_annotator_changed_of_the_prediction_within_it():
    correction = Example("ann-7:label", PARAGRAPH, _labeled(PARAGRAPH), "human")
    predicted = [s for s in correction.spans if PARAGRAPH[s.start : s.end] != "Ajax"]  # both Ajax missed
    smith = PARAGRAPH.index("Smith")
    predicted = [s if s.start != smith else Span(s.start, s.end, "ORG") for s in predicted]  # Smith retyped
    predicted.append(Span(PARAGRAPH.index("Organisers"), PARAGRAPH.index("Organisers") + 10, "ORG"))  # deleted
    parts = split_correction(correction, MethodConfig(max_chunk_chars=120, pack_sentences=True), predicted)
    assert [p.fixes for p in parts] == [1, 1, 2]
    assert [p.fixes for p in split_correction(correction, MethodConfig(max_chunk_chars=120, pack_sentences=True))] \
        == [0, 0, 0]  # the prediction unknown: nothing counted
    [whole] = split_correction(correction, MethodConfig(pack_sentences=True), predicted[:2])  # one chunk, as it is
    assert whole.id == correction.id and whole.fixes == len(correction.spans) - 2
