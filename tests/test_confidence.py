"""Confidence scores from token log-probabilities, and how they reach spans and predictions."""

from __future__ import annotations

import json
import math

import pytest

from reversener.confidence import answer_confidence, score_mentions
from reversener.config import MethodConfig
from reversener.llm.client import Completion
from reversener.recognizer import Recognizer
from reversener.types import Mention

from .scripted_llm import FakeEmbedder, ScriptedLLM

TYPES = {"PER": "people", "LOC": "places"}


def _tokens(pieces: list[tuple[str, float]]) -> tuple[str, tuple[tuple[str, float], ...]]:
    return "".join(p for p, _ in pieces), tuple(pieces)


ANSWER, LOGPROBS = _tokens([
    ('{"entities": [{"text": "', -0.01), ("Ada", -0.1), (" Love", -0.5), ("lace", -0.2),
    ('", "type": "', 0.0), ("PER", -0.3), ('"}, {"text": "', -0.05), ("London", -2.0),
    ('", "type": "', 0.0), ("LOC", -0.01), ('"}]}', -0.7),
])


def test_a_mention_scores_the_probability_of_its_name_and_type_and_the_answer_its_least_likely_token():
    mentions = score_mentions(ANSWER, LOGPROBS, [Mention("Ada Lovelace", "PER"), Mention("London", "LOC")])
    assert [m.score for m in mentions] == pytest.approx([math.exp(-0.1 - 0.5 - 0.2 - 0.3), math.exp(-2.0 - 0.01)])
    assert answer_confidence(ANSWER, LOGPROBS) == pytest.approx(math.exp(-2.0))


def test_without_logprobs_nothing_is_scored():
    assert score_mentions(ANSWER, None, [Mention("London", "LOC")])[0].score is None
    assert answer_confidence(ANSWER, None) is None


def test_a_name_is_found_as_json_spells_it_and_each_occurrence_in_answer_order():
    answer, logprobs = _tokens([('[{"text": "', 0.0), ("O", -0.1), ('\\"', -0.2), ("Brien", -0.3), ('"}, ', 0.0),
                                ('{"text": "', 0.0), ("Paris", -0.4), ('"}, {"text": "', 0.0), ("Paris", -1.5),
                                ('"}]', 0.0)])
    scored = score_mentions(answer, logprobs, [Mention('O"Brien', "PER"), Mention("Paris", "LOC"),
                                               Mention("Paris", "PER")])
    assert [m.score for m in scored] == pytest.approx([math.exp(-0.6), math.exp(-0.4), math.exp(-1.5)])


def test_tokens_that_do_not_spell_the_answer_exactly_still_map_around_the_gap():
    # A server may send the bytes of a split character as tokens that decode to nothing or to U+FFFD.
    answer = '[{"text": "Zoë Ball"}, {"text": "Rome"}]'
    logprobs = (('[{"text": "', 0.0), ("Zo", -0.2), ("\ufffd", -3.0), ("ë", -0.1), (" Ball", -0.6),
                ('"}, {"text": "', 0.0), ("", -0.05), ("Rome", -0.4), ('"}]', 0.0))
    scored = score_mentions(answer, logprobs, [Mention("Zoë Ball", "PER"), Mention("Rome", "LOC")])
    assert [m.score for m in scored] == pytest.approx([math.exp(-0.2 - 3.0 - 0.1 - 0.6), math.exp(-0.4)])


def test_the_type_counts_wherever_it_stands_in_the_object_and_only_there():
    answer, logprobs = _tokens([('[{"type": "', 0.0), ("PER", -0.7), ('", "text": "', 0.0), ("Ada", -0.2),
                                ('"}, {"text": "', 0.0), ("Rome", -0.1), ('"}]', 0.0)])
    scored = score_mentions(answer, logprobs, [Mention("Ada", "PER"), Mention("Rome", "LOC")])
    assert [m.score for m in scored] == pytest.approx([math.exp(-0.9), math.exp(-0.1)])


def test_a_name_missing_from_the_answer_keeps_no_score():
    assert score_mentions(ANSWER, LOGPROBS, [Mention("Paris", "LOC")])[0].score is None


def _recognizer(answers, **config) -> tuple[Recognizer, ScriptedLLM]:
    llm = ScriptedLLM(lambda request, i: answers[i])
    return Recognizer(llm, FakeEmbedder(), TYPES, config=MethodConfig(**config)), llm


def test_spans_and_the_prediction_carry_scores_from_the_answers_logprobs():
    recognizer, llm = _recognizer([Completion(ANSWER, LOGPROBS)], min_score=0.0)  # every entity kept
    [found] = recognizer.recognize(["Ada Lovelace left London."])
    assert llm.requests[0].logprobs
    assert [(s.label, round(s.score, 4)) for s in found.spans] == [("PER", round(math.exp(-1.1), 4)),
                                                                  ("LOC", round(math.exp(-2.01), 4))]
    assert found.confidence == pytest.approx(math.exp(-2.0))  # the answer's least likely token
    assert found.score == pytest.approx(math.exp(-2.0) * math.exp(-2.01))  # times its least sure region's


def test_min_score_drops_the_unsure_entities():
    recognizer, _ = _recognizer([Completion(ANSWER, LOGPROBS)])  # MIN_SCORE 0.25 by default
    [found] = recognizer.recognize(["Ada Lovelace left London."])
    assert [s.label for s in found.spans] == ["PER"]


def test_with_samples_the_score_is_the_vote_share_and_the_answer_score_the_share_that_agrees():
    both = json.dumps({"entities": [{"text": "Ada Lovelace", "type": "PER"}, {"text": "London", "type": "LOC"}]})
    one = json.dumps({"entities": [{"text": "Ada Lovelace", "type": "PER"}]})
    recognizer, llm = _recognizer([both, one, both, both], samples=4)
    [found] = recognizer.recognize(["Ada Lovelace left London."])
    assert not llm.requests[0].logprobs  # sampled answers are scored by their votes
    assert [s.score for s in found.spans] == [1.0, 0.75]
    assert found.confidence == 0.75 and found.score == 0.75 * 0.75


def test_an_answer_without_logprobs_gives_no_scores():
    recognizer, _ = _recognizer([ANSWER])
    [found] = recognizer.recognize(["Ada Lovelace left London."])
    assert [s.score for s in found.spans] == [None, None] and found.score is None
