"""Tests for reversener.entities: names of each type invented by the LLM, then cleaned."""

from __future__ import annotations

import json
import re

import pytest

from reversener.entities import clean_entities, generate_entities
from reversener.errors import LLMError

from .scripted_llm import ScriptedLLM, prompt_of

TYPES = {"PER": "names of people.", "ORG": "names of companies and institutions.", "LOC": "names of places."}
_ASKED = re.compile(r"names of type (\S+):")


def asked_type(request) -> str:
    """The type a generate_entities prompt asks names for."""
    found = _ASKED.search(prompt_of(request))
    assert found, prompt_of(request)
    return found.group(1)


def by_type(answers: dict[str, str | Exception]) -> ScriptedLLM:
    """An LLM that answers each type's request with answers[type]."""
    return ScriptedLLM(lambda request, index: answers[asked_type(request)])


def listing(*names: str) -> str:
    return json.dumps({"entities": list(names)})


def test_one_request_per_type_with_its_definition():
    llm = by_type({"PER": listing("Anna Berg"), "ORG": listing("Acme"), "LOC": listing("Oslo")})
    generate_entities(llm, TYPES, count=4, temperature=0.9)

    assert len(llm.batches) == 1 and len(llm.requests) == 3
    assert [asked_type(r) for r in llm.requests] == ["PER", "ORG", "LOC"]
    for request, (name, definition) in zip(llm.requests, TYPES.items(), strict=True):
        prompt = prompt_of(request)
        assert f"of type {name}: {definition}" in prompt
        for other, other_definition in TYPES.items():  # every type is listed, so the LLM can avoid them
            assert f"- {other}: {other_definition}" in prompt
        assert "List 6 different" in prompt  # asks for more than needed
        assert request.temperature == 0.9
        assert request.samples == 1
        assert request.max_tokens >= 6 * 10


def test_answers_are_cleaned():
    too_long = "The Very Long Name Of Some Organization For Testing Purposes Here"  # 11 words
    answers = {
        "PER": listing("Anna Berg", "anna berg", "ANNA BERG", "Jordan", "Bo Li", "Anna Berg"),
        "ORG": listing("Acme", too_long, "jordan", "Globex", "ACME"),
        "LOC": listing("  Oslo  ", "Lima", "Oslo"),
    }
    entities = generate_entities(by_type(answers), TYPES, count=5)
    assert entities == {
        "PER": ["Anna Berg", "Bo Li"],  # first spelling kept; Jordan is also proposed as an ORG
        "ORG": ["Acme", "Globex"],
        "LOC": ["Oslo", "Lima"],
    }


def test_count_limits_each_type():
    answers = {"PER": listing("A B", "C D", "E F", "G H"), "ORG": listing("Acme"), "LOC": listing()}
    entities = generate_entities(by_type(answers), TYPES, count=2)
    assert entities == {"PER": ["A B", "C D"], "ORG": ["Acme"], "LOC": []}


def test_failing_type_yields_empty_list_and_others_still_work():
    answers = {"PER": listing("Anna Berg"), "ORG": LLMError("boom"), "LOC": listing("Oslo")}
    llm = by_type(answers)
    assert generate_entities(llm, TYPES, count=3) == {"PER": ["Anna Berg"], "ORG": [], "LOC": ["Oslo"]}
    assert llm.stats.failures == 1


def test_failing_type_does_not_veto_names_of_other_types():
    # a failed type proposes nothing, so it cannot make another type's name look cross-type
    answers = {"PER": listing("Jordan"), "ORG": LLMError("boom"), "LOC": listing("Oslo")}
    assert generate_entities(by_type(answers), TYPES, count=3)["PER"] == ["Jordan"]


@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"entities": ["Anna Berg", "Bo Li"]}\n```',
        'Sure! Here they are:\n```\n["Anna Berg", "Bo Li"]\n```\nHope that helps.',
        '["Anna Berg", "Bo Li"]',
        '{"people": ["Anna Berg", "Bo Li"]}',
        'Here: {"entities": ["Anna Berg", "Bo Li",]}',
        "['Anna Berg', 'Bo Li']",
        '["Anna Berg", 7, null, "", "  ", "Bo Li"]',
    ],
)
def test_answers_in_odd_shapes(answer):
    llm = by_type({"PER": answer})
    assert generate_entities(llm, {"PER": TYPES["PER"]}, count=5) == {"PER": ["Anna Berg", "Bo Li"]}


@pytest.mark.parametrize("answer",
                         ["I cannot help with that.", "", '{"entities": []}', '{"entities": [{"name": "x"}]}'])
def test_unusable_answer_gives_no_names(answer):
    assert generate_entities(by_type({"PER": answer}), {"PER": TYPES["PER"]}, count=5) == {"PER": []}


def test_clean_entities_directly():
    proposed = {"A": ["x", "X", "y", "shared"], "B": ["Shared", "z"], "C": []}
    assert clean_entities(proposed, count=10) == {"A": ["x", "y"], "B": ["z"], "C": []}


def test_clean_entities_keeps_eight_words_drops_nine():
    eight, nine = " ".join(["w"] * 8), " ".join(["v"] * 9)
    assert clean_entities({"A": [eight, nine]}, count=5) == {"A": [eight]}


def test_scripted_llm_is_an_llm_client():
    from reversener.llm.client import LLMClient

    assert isinstance(by_type({}), LLMClient)
