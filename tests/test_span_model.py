"""The span model: tags per word piece, spans from them, and what it adds to the LLM's answer."""

from __future__ import annotations

import re

import numpy as np

from reversener.span_model import SpanModel, TokenFeatures, adopted, merge, tags
from reversener.types import Sentence, Span

VOCABULARY: dict[str, int] = {}


def pieces(text: str) -> TokenFeatures:
    """Words as pieces, each a one-hot vector of its lowercased form (as MiniLM lowercases); "Italians"
    comes as two pieces, "Ital" and "ians", as a word-piece tokenizer would cut it."""
    offsets, vectors = [], []
    for match in re.finditer(r"Ital|ians|\w+|[^\w\s]", text):
        offsets.append((match.start(), match.end()))
        vector = np.zeros(64, np.float32)
        vector[VOCABULARY.setdefault(match.group().lower(), len(VOCABULARY))] = 1.0
        vectors.append(vector)
    return TokenFeatures.of(text, np.array(offsets), np.array(vectors))


def labeled(text: str, *names: tuple[str, str]) -> Sentence:
    return Sentence(text, tuple(sorted(Span(text.index(n), text.index(n) + len(n), t) for n, t in names)))


TRAIN = [
    labeled("The Dutch team beat the Italians in Rome .", ("Dutch", "MISC"), ("Italians", "MISC"), ("Rome", "LOC")),
    labeled("Dutch fans sang before the match .", ("Dutch", "MISC")),
    labeled("Italians and Dutch supporters met in Oslo .", ("Italians", "MISC"), ("Dutch", "MISC"), ("Oslo", "LOC")),
    labeled("The match was played on Sunday .",),
    labeled("Fans travelled to Rome by train .", ("Rome", "LOC")),
] * 3


def test_pieces_are_tagged_begin_inside_or_outside_by_the_span_they_start_in():
    sentence = labeled("The Italians won", ("Italians", "MISC"))
    assert tags(pieces(sentence.text), sentence.spans) == ["O", "B-MISC", "I-MISC", "O"]


def test_shapes_say_what_a_lowercasing_model_cannot_see():
    lower, upper = pieces("go rome"), pieces("go Rome")
    assert not np.array_equal(lower.vectors[1], upper.vectors[1])
    assert lower.windowed().shape == (2, 3 * lower.vectors.shape[1])  # a piece and its two neighbours


def test_a_trained_model_finds_a_type_in_a_text_it_has_not_seen_and_names_whole_words():
    model = SpanModel().fit(TRAIN, [pieces(s.text) for s in TRAIN])
    text = "Yesterday the Italians and the Dutch played ."
    [found] = model.predict([text], [pieces(text)])
    assert [(text[s.start : s.end], s.label) for s in found] == [("Italians", "MISC"), ("Dutch", "MISC")]
    assert all(0 < (s.score or 0) <= 1 for s in found)


def test_with_no_entity_to_learn_from_it_finds_nothing():
    model = SpanModel().fit([labeled("Nothing here .")], [pieces("Nothing here .")])
    assert not model.trained and model.predict(["The Dutch won ."], [pieces("The Dutch won .")]) == [[]]


def test_merge_adds_only_the_missed_types_sure_spans_where_the_llm_found_nothing():
    llm = [Span(0, 5, "PER", 0.9), Span(10, 15, "ORG", 0.8)]
    model = [Span(0, 5, "MISC", 0.9), Span(12, 20, "MISC", 0.9), Span(30, 35, "MISC", 0.9),
             Span(40, 45, "MISC", 0.3), Span(50, 55, "LOC", 0.9)]
    assert merge(llm, model, {"MISC"}, 0.5) == sorted(llm + [Span(30, 35, "MISC", 0.9)])
    assert merge(llm, model, set(), 0.5) == llm


def test_a_type_is_adopted_only_where_its_spans_raise_f1_on_corrections_held_out_of_training():
    # The LLM found every LOC and no MISC in these corrections: MISC spans help, LOC ones add nothing.
    answers = [[s for s in c.spans if s.label == "LOC"] for c in TRAIN]
    features = [pieces(c.text) for c in TRAIN]
    assert adopted(TRAIN, answers, features, {"MISC", "LOC"}, 0.5) == ["MISC"]
    assert adopted(TRAIN, [list(c.spans) for c in TRAIN], features, {"MISC", "LOC"}, 0.5) == []  # nothing missed
    assert adopted(TRAIN[:4], answers[:4], features[:4], {"MISC"}, 0.5) == []  # fewer corrections than folds


def test_a_projects_span_model_adds_its_adopted_types_a_sentence_at_a_time_with_offsets_in_the_whole_text():
    from reversener.span_model import NO_SPANS, learn_spans

    read: list[str] = []

    def word_pieces(texts):
        read.extend(texts)
        found = [pieces(text) for text in texts]
        return [(f.offsets, f.vectors[:, :64]) for f in found]  # as an embedder gives them: shapes come after

    answers = [[s for s in c.spans if s.label == "LOC"] for c in TRAIN]
    learned = learn_spans(TRAIN, answers, {"MISC", "LOC"}, 0.5, word_pieces)
    assert learned.types == {"MISC"} and learned.digest() != NO_SPANS.digest()
    assert learned.candidates == {"MISC", "LOC"}  # LOC weighed and not adopted: /metrics counts it rejected
    text = "It rained all day .\nThen the Dutch fans sang in Rome ."
    oslo = [Span(text.index("Rome"), text.index("Rome") + 4, "LOC", 0.9)]
    assert [(text[s.start : s.end], s.label) for s in learned.add(text, oslo, {"MISC", "LOC"})] == [
        ("Dutch", "MISC"), ("Rome", "LOC")]
    assert learned.add(text, oslo, {"LOC"}) == oslo  # a target without the type gets nothing
    read.clear()
    assert learned.add(text, [], {"MISC"}) == [Span(text.index("Dutch"), text.index("Dutch") + 5, "MISC",
                                                    learned.add(text, [], {"MISC"})[0].score)]
    assert read == []  # a text served again is not read again by the same model
    assert not NO_SPANS and NO_SPANS.add(text, oslo, {"MISC"}) == oslo
    assert not learn_spans(TRAIN, [None] * len(TRAIN), {"MISC"}, 0.5, word_pieces)  # no prediction known
