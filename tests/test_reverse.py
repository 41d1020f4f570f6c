"""Tests for reversener.reverse: planning, checking and writing reverse sentences."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from reversener.errors import LLMError
from reversener.reverse import Plan, check_candidate, plan_examples, write_reverse_sentences
from reversener.types import Mention, Sentence, Span

from .scripted_llm import ScriptedLLM, prompt_of

MARIA = Mention("Maria Lopez", "PER")
BERLIN = Mention("Berlin", "LOC")
PLAN = Plan("John Smith visited Paris last week.", (MARIA, BERLIN))
GOOD = "Maria Lopez visited Berlin last week."


# --- plan_examples ---

ENTITIES = {
    "PER": ["Anna", "Bo", "Cy", "Di"],
    "ORG": ["Acme", "Globex"],
    "LOC": ["Oslo", "Lima", "Rome"],
}
FEATURES = [f"Feature sentence number {i}." for i in range(10)]


def test_plan_count_and_features():
    plans = plan_examples(FEATURES, ENTITIES, per_feature=3, max_entities=2, seed=0)
    assert len(plans) == 30
    assert [p.feature for p in plans] == [f for f in FEATURES for _ in range(3)]


def test_plans_respect_max_entities_and_use_distinct_types():
    plans = plan_examples(FEATURES, ENTITIES, per_feature=3, max_entities=2, seed=0)
    for plan in plans:
        assert 1 <= len(plan.mentions) <= 2
        types = [m.type for m in plan.mentions]
        assert len(set(types)) == len(types)
        assert all(m.text in ENTITIES[m.type] for m in plan.mentions)


def test_plans_spread_types_and_names_evenly():
    plans = plan_examples(FEATURES, ENTITIES, per_feature=5, max_entities=3, seed=7)
    mentions = [m for p in plans for m in p.mentions]
    per_type = Counter(m.type for m in mentions)
    assert set(per_type) == set(ENTITIES)
    assert max(per_type.values()) - min(per_type.values()) <= 1
    for type_name, names in ENTITIES.items():
        per_name = Counter(m.text for m in mentions if m.type == type_name)
        assert set(per_name) == set(names)
        assert max(per_name.values()) - min(per_name.values()) <= 1, (type_name, per_name)


def test_plans_are_seed_deterministic():
    first = plan_examples(FEATURES, ENTITIES, per_feature=3, max_entities=3, seed=11)
    again = plan_examples(FEATURES, ENTITIES, per_feature=3, max_entities=3, seed=11)
    other = plan_examples(FEATURES, ENTITIES, per_feature=3, max_entities=3, seed=12)
    assert first == again
    assert first != other


def test_plans_skip_types_without_names():
    plans = plan_examples(FEATURES[:2], {"PER": ["Anna"], "ORG": []}, per_feature=2, max_entities=2)
    assert {m for p in plans for m in p.mentions} == {Mention("Anna", "PER")}
    assert plan_examples(FEATURES, {"PER": [], "ORG": []}, per_feature=2, max_entities=2) == []
    assert plan_examples(FEATURES, {}, per_feature=2, max_entities=2) == []


# --- check_candidate ---


def test_good_candidate_gives_sentence_with_exact_spans():
    result = check_candidate(GOOD, PLAN)
    assert result == Sentence(GOOD, (Span(0, 11, "PER"), Span(20, 26, "LOC")))
    assert result.mentions() == [MARIA, BERLIN]


def test_good_candidate_may_have_several_sentences():
    candidate = "Last week Maria Lopez flew to Berlin. Then she rested."
    result = check_candidate(candidate, PLAN)
    assert isinstance(result, Sentence)
    assert [(candidate[s.start : s.end], s.label) for s in result.spans] == [("Maria Lopez", "PER"), ("Berlin", "LOC")]


def test_repeated_entity_is_labeled_everywhere():
    candidate = "Maria Lopez loves Berlin, and Berlin loves her."
    result = check_candidate(candidate, PLAN)
    assert isinstance(result, Sentence)
    assert [s.start for s in result.spans if s.label == "LOC"] == [18, 30]


@pytest.mark.parametrize(
    "candidate, reason",
    [
        ("", "no sentence in answer"),
        ("John Smith visited Paris last week.", "copied the feature sentence"),
        ("Maria Lopez visited Berlin " + "and walked " * 20 + "home.", "too long"),
        ("Maria Lopez visited Munich last week.", "entity missing"),
        ("maria lopez visited Berlin last week.", "entity missing"),  # case must match exactly
        ("Maria Lopezz visited Berlin last week.", "entity missing"),  # not on a word boundary
        ("Maria Lopez visited Berlin and Paris last week.", "unlabeled name"),  # the feature's own name kept
        ("Maria Lopez visited Berlin with John last week.", "unlabeled name"),
        ("Maria Lopez met Mr. Smith in Berlin.", "unlabeled name"),  # a name after a title
    ],
)
def test_rejection_reasons(candidate, reason):
    assert check_candidate(candidate, PLAN) == reason


def test_overlapping_entities_are_rejected():
    plan = Plan("The Herald opened an office.", (Mention("New York", "LOC"), Mention("New York Times", "ORG")))
    assert check_candidate("The New York Times opened an office.", plan) == "entities overlap"
    # once each entity also stands alone, both labels are recoverable
    assert isinstance(check_candidate("The New York Times opened an office in New York.", plan), Sentence)


def test_length_limit_is_relative_to_the_feature():
    def of_length(n: int) -> str:
        return "Anna ran " + "x" * (n - 10) + "."

    short_plan = Plan("Anna ran.", (Mention("Anna", "PER"),))  # limit: 3 * max(9, 40) = 120 characters
    assert len(of_length(120)) == 120 and len(of_length(121)) == 121
    assert isinstance(check_candidate(of_length(120), short_plan), Sentence)
    assert check_candidate(of_length(121), short_plan) == "too long"
    long_plan = Plan("Anna ran " + "far " * 20 + "away.", (Mention("Anna", "PER"),))  # 94 -> 282 characters
    assert isinstance(check_candidate(of_length(150), long_plan), Sentence)


def test_common_capitalized_words_are_not_names():
    candidate = "Maria Lopez said I would see Berlin on Monday in May."
    assert isinstance(check_candidate(candidate, PLAN), Sentence)


# --- write_reverse_sentences ---


def sentence_answer(text: str) -> str:
    return json.dumps({"sentence": text})


def plan_for(name: str) -> Plan:
    return Plan(f"Paul Klee lives in Bern, said {name}.", (Mention(name, "PER"),))


def test_write_keeps_good_sentences_and_retries_rejected_ones():
    good, retried, hopeless = plan_for("Anna"), plan_for("Bo"), plan_for("Cy")

    def respond(request, index):
        prompt = prompt_of(request)
        if '"Anna"' in prompt:
            return sentence_answer("Anna lives in the city, she said.")
        if '"Bo"' in prompt:  # first sample misses the entity, the second is fine
            return sentence_answer("Bo lives in the city." if index == 1 else "Someone lives there.")
        return sentence_answer("Cy lives in Zurich now.")  # always an unlabeled name

    llm = ScriptedLLM(respond)
    progress: list[int] = []
    kept, reasons = write_reverse_sentences(llm, [good, retried, hopeless], progress=progress.append)

    assert [(plan, sentence.text) for plan, sentence in kept] == [
        (good, "Anna lives in the city, she said."),
        (retried, "Bo lives in the city."),
    ]
    assert kept[1][1].spans == (Span(0, 2, "PER"),)
    assert reasons == Counter({"entity missing": 1, "unlabeled name": 2})

    # round 1 asks all three plans for one sample, round 2 asks the two rejected for a fresh second one
    assert [len(batch) for batch in llm.batches] == [3, 2]
    assert [r.samples for r in llm.batches[0]] == [1, 1, 1]
    assert [r.samples for r in llm.batches[1]] == [2, 2]
    assert [r.messages for r in llm.batches[1]] == [r.messages for r in llm.batches[0][1:]]
    assert '"Bo"' in prompt_of(llm.batches[1][0]) and "Paul Klee lives in Bern" in prompt_of(llm.batches[1][0])
    assert progress == [1] * 3  # once per plan, when it is settled
    assert llm.stats.calls == 3 + 2 * 2


def test_write_with_more_rounds_keeps_asking_fresh_samples():
    llm = ScriptedLLM.always(sentence_answer("No entity here."))
    kept, reasons = write_reverse_sentences(llm, [plan_for("Anna")], rounds=3)
    assert kept == []
    assert reasons == Counter({"entity missing": 3})
    assert [r.samples for r in llm.requests] == [1, 2, 3]


def test_write_survives_llm_error():
    def respond(request, index):
        if '"Bo"' in prompt_of(request):
            return LLMError("boom")
        return sentence_answer("Anna lives in the city.")

    llm = ScriptedLLM(respond)
    kept, reasons = write_reverse_sentences(llm, [plan_for("Bo"), plan_for("Anna")])
    assert [sentence.text for _, sentence in kept] == ["Anna lives in the city."]
    assert reasons == Counter({"llm error": 1})
    # an LLM error has been retried by the gateway already: the plan is not asked again
    assert len(llm.requests) == 2


@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"sentence": "Anna  lives in\\nthe city."}\n```',
        'Here you go: {"text": "Anna lives in the city."}',
    ],
)
def test_write_reads_odd_answers(answer):
    kept, reasons = write_reverse_sentences(ScriptedLLM.always(answer), [plan_for("Anna")])
    assert [sentence.text for _, sentence in kept] == ["Anna lives in the city."]  # whitespace collapsed


def test_write_counts_answers_without_a_sentence():
    kept, reasons = write_reverse_sentences(ScriptedLLM.always("I can't do that."), [plan_for("Anna")], rounds=1)
    assert kept == [] and reasons == Counter({"no sentence in answer": 1})


def test_write_request_settings():
    llm = ScriptedLLM.always(sentence_answer("Anna lives in the city."))
    write_reverse_sentences(llm, [plan_for("Anna")], temperature=0.3)
    (request,) = llm.requests
    assert request.temperature == 0.3
    assert request.messages[0][0] == "user"
    assert 'Reference sentence: Paul Klee lives in Bern, said Anna.' in prompt_of(request)
    assert 'Entities: "Anna" (PER)' in prompt_of(request)
