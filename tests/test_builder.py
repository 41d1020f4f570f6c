"""Steps 2 to 5 end to end with scripted answers: a library of verified synthetic examples."""

from __future__ import annotations

import json

from reversener.builder import build_library
from reversener.config import MethodConfig
from reversener.definitions import resolve_types
from reversener.devtools.fake_answers import answer
from reversener.errors import LLMError

from .scripted_llm import FakeEmbedder, ScriptedLLM

TEXTS = [
    "Angela Merkel met officials of Siemens in Berlin on Monday.",
    "The United Nations said the talks in Paris would resume next week.",
    "Reuters reported that Bob had left Oslo for good.",
    "Anna won a medal at the Olympics for the German team.",
    "Maria moved to Rome after the company was sold.",
]


def _llm() -> ScriptedLLM:
    return ScriptedLLM(lambda request, i: answer({"messages": request.as_chat()}))


def test_build_keeps_only_examples_whose_entities_occur_verbatim():
    types = resolve_types(["PER", "ORG", "LOC", "MISC"])
    config = MethodConfig(feature_sentences=3, entities_per_type=3, examples_per_feature=2)
    library, report = build_library(TEXTS, types, _llm(), FakeEmbedder(), config)
    assert len(report.feature_sentences) == 3 and set(report.feature_sentences) <= set(TEXTS)
    assert report.entities["LOC"] == ["Lisbon", "Kyoto", "Lake Tana"]
    assert report.planned == 6 and report.kept == len(library) > 0
    for example in library:
        assert example.source == "synthetic" and example.id.startswith("syn-")
        assert example.spans and all(example.text[s.start : s.end] for s in example.spans)
        assert {s.label for s in example.spans} <= set(types)
    assert library.meta["llm"] == "scripted" and library.meta["prompts"]


def test_build_is_deterministic_for_a_seed():
    types = resolve_types(["PER", "LOC"])
    config = MethodConfig(feature_sentences=2, entities_per_type=3)
    first, _ = build_library(TEXTS, types, _llm(), FakeEmbedder(), config)
    second, _ = build_library(TEXTS, types, _llm(), FakeEmbedder(), config)
    assert first.version == second.version


def test_build_from_no_texts_gives_an_empty_library():
    library, report = build_library([], resolve_types(["PER"]), _llm(), FakeEmbedder())
    assert len(library) == 0 and report.planned == 0


def test_with_verify_templates_the_zero_shot_recognizer_checks_each_slot():
    def respond(request, i):
        prompt = request.messages[-1][1]
        if prompt.startswith("Replace every name"):  # the template writer calls Siemens a person
            sentence = prompt.rsplit("\nSentence: ", 1)[1].split("\nAnswer with JSON", 1)[0]
            template = sentence.replace("Siemens", "[PER]").replace("Angela Merkel", "[PER]").replace("Berlin", "[LOC]")
            return json.dumps({"template": template})
        return answer({"messages": request.as_chat()})

    types = resolve_types(["PER", "ORG", "LOC"])
    config = MethodConfig(feature_sentences=1, entities_per_type=3, examples_per_feature=1, verify_templates=True)
    llm = ScriptedLLM(respond)
    _, report = build_library(TEXTS[:1], types, llm, FakeEmbedder(), config)
    assert report.rejected == {"slot type disputed": 1, "negatives over the cap": 0}  # Siemens is an ORG
    assert any(r.messages[-1][1] == f"Text: {TEXTS[0]}" for r in llm.requests)


def test_failed_llm_requests_are_counted_in_the_report_with_the_first_error():
    def respond(request, i):
        if request.messages[-1][1].startswith("Replace every name"):
            return LLMError("the model is down")
        return answer({"messages": request.as_chat()})

    llm = ScriptedLLM(respond)
    config = MethodConfig(feature_sentences=2, entities_per_type=3)
    _, report = build_library(TEXTS, resolve_types(["PER", "LOC"]), llm, FakeEmbedder(), config)
    asked = sum(prompt.startswith("Replace every name") for prompt in llm.prompts)
    assert asked >= 2 and report.llm_failures == asked and report.llm_error == "the model is down"
