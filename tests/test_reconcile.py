"""One name, one label within a text: the pure rule, and the recognizer settling a paragraph's chunks."""

from __future__ import annotations

import json

import pytest

from reversener.config import MethodConfig
from reversener.recognizer import Recognizer
from reversener.reconcile import reconcile
from reversener.types import Span

from .scripted_llm import FakeEmbedder, ScriptedLLM, prompt_of

TEXT = "Ajax beat Porto. Ajax fans sang in Amsterdam. Later Ajax flew home from Porto."
AJAX = [i for i in range(len(TEXT)) if TEXT.startswith("Ajax", i)]


def at(name: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(name, start + 1)
    return start, start + len(name)


def labeled(spans: list[Span]) -> list[tuple[str, str, float | None]]:
    return [(TEXT[s.start : s.end], s.label, s.score) for s in spans]


def test_a_name_takes_the_type_its_scores_favour_everywhere():
    spans = [Span(*at("Ajax", 0), "LOC", 0.4), Span(*at("Ajax", 1), "ORG", 0.9), Span(*at("Ajax", 2), "LOC", 0.3)]
    assert labeled(reconcile(TEXT, spans, 0.5)) == [("Ajax", "ORG", 0.9)] * 3  # 0.9 outweighs 0.4 + 0.3


def test_the_majority_wins_where_its_scores_add_up_to_more():
    spans = [Span(*at("Ajax", 0), "LOC", 0.5), Span(*at("Ajax", 1), "ORG", 0.9), Span(*at("Ajax", 2), "LOC", 0.6)]
    assert labeled(reconcile(TEXT, spans, 0.5)) == [("Ajax", "LOC", 0.5), ("Ajax", "LOC", 0.6), ("Ajax", "LOC", 0.6)]


def test_a_tie_goes_to_the_better_score_then_to_the_type_seen_first():
    assert {s.label for s in reconcile(TEXT, [Span(*at("Ajax", 0), "LOC", 0.5), Span(*at("Ajax", 1), "ORG", 0.5)],
                                       0.9)} == {"LOC"}
    unscored = [Span(*at("Ajax", 0), "ORG"), Span(*at("Ajax", 1), "LOC")]
    assert [s.label for s in reconcile(TEXT, unscored, 0.5)] == ["ORG"] * 3  # unscored: weight 1, confident


def test_unlabeled_occurrences_of_a_confident_name_are_added_and_others_are_left():
    spans = [Span(*at("Ajax", 1), "ORG", 0.8), Span(*at("Porto", 0), "LOC", 0.3), Span(*at("Amsterdam"), "LOC", 0.9)]
    found = reconcile(TEXT, spans, 0.5)
    assert labeled(found) == [("Ajax", "ORG", 0.8), ("Porto", "LOC", 0.3), ("Ajax", "ORG", 0.8),
                              ("Amsterdam", "LOC", 0.9), ("Ajax", "ORG", 0.8)]  # Porto (0.3) is not spread
    assert [s.start for s in found if s.label == "ORG"] == AJAX


def test_added_occurrences_keep_word_boundaries_case_and_other_spans():
    text = "Anna met Annabel and ANNA. anna, Anna Karenina and Anna."
    spans = [Span(0, 4, "PER", 0.9), Span(text.index("Anna Karenina"), text.index("Anna Karenina") + 13, "MISC", 0.9)]
    found = reconcile(text, spans, 0.5)
    assert [(text[s.start : s.end], s.start) for s in found] == [
        ("Anna", 0), ("Anna Karenina", text.index("Anna Karenina")), ("Anna", text.rindex("Anna"))]


def test_a_one_character_name_is_not_spread():
    text = "X marks it. X again."
    assert reconcile(text, [Span(0, 1, "MISC", 0.99)], 0.5) == [Span(0, 1, "MISC", 0.99)]


def test_nothing_in_nothing_out_and_the_input_is_not_changed():
    spans = (Span(*at("Ajax", 0), "LOC", 0.4), Span(*at("Ajax", 1), "ORG", 0.9))
    assert reconcile(TEXT, [], 0.5) == []
    reconcile(TEXT, spans, 0.5)
    assert spans == (Span(*at("Ajax", 0), "LOC", 0.4), Span(*at("Ajax", 1), "ORG", 0.9))


@pytest.mark.parametrize("reconciled", [True, False])
def test_the_recognizer_settles_a_paragraphs_names_over_all_its_chunks(reconciled):
    # A chunk per sentence: Ajax is LOC in the first, ORG in the next two, and skipped in the last.
    text = TEXT + " Ajax won again."
    answers = {"beat": [("Ajax", "LOC")], "fans": [("Ajax", "ORG"), ("Amsterdam", "LOC")],
               "Later": [("Ajax", "ORG"), ("Porto", "LOC")], "won": []}

    def respond(request, i):
        key = next(k for k in answers if k in prompt_of(request))
        return json.dumps({"entities": [{"text": t, "type": k} for t, k in answers[key]]})

    config = MethodConfig(max_chunk_chars=100, pack_sentences=False, reconcile_mentions=reconciled)
    llm = ScriptedLLM(respond)
    [found] = Recognizer(llm, FakeEmbedder(), {"ORG": "teams", "LOC": "places"}, config=config).recognize([text])
    assert len(llm.requests) == 4
    named = [(text[s.start : s.end], s.label) for s in found.spans]
    if reconciled:  # unscored answers: each occurrence is a vote of 1, and confident
        assert named == [("Ajax", "ORG"), ("Porto", "LOC"), ("Ajax", "ORG"), ("Amsterdam", "LOC"), ("Ajax", "ORG"),
                         ("Porto", "LOC"), ("Ajax", "ORG")]
    else:
        assert named == [("Ajax", "LOC"), ("Ajax", "ORG"), ("Amsterdam", "LOC"), ("Ajax", "ORG"), ("Porto", "LOC")]
