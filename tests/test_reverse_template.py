"""Template strategy of step 4: [TYPE] slots filled with generated entities, labels exact by construction."""

from __future__ import annotations

import json

import numpy as np

from reversener.errors import LLMError
from reversener.reverse_template import fill_template, template_examples, write_templates

from .scripted_llm import ScriptedLLM, prompt_of

TYPES = {"PER": "people", "LOC": "places"}
ENTITIES = {"PER": ["Ana Lima", "Bo"], "LOC": ["Köln", "Cape Town"]}


def _template(text: str) -> str:
    return json.dumps({"template": text})


def test_slots_are_filled_with_exact_spans():
    sentence = fill_template("Coach [PER] flew from [LOC] to [loc] .", ENTITIES, np.random.default_rng(0))
    labels = [(sentence.text[s.start : s.end], s.label) for s in sentence.spans]
    assert [label for _, label in labels] == ["PER", "LOC", "LOC"]
    assert all(text in ENTITIES[label] for text, label in labels)
    assert labels[1][0] != labels[2][0]  # one template does not repeat an entity while others are left


def test_a_template_with_an_unknown_slot_or_a_leftover_name_is_rejected():
    rng = np.random.default_rng(0)
    assert fill_template("[ORG] hired [PER] .", ENTITIES, rng) == "unknown slot type"
    assert fill_template("[PER] met Angela in [LOC] .", ENTITIES, rng) == "unlabeled name"


def test_write_templates_parses_answers_and_survives_failures():
    answers = {"A one.": _template("[PER] one ."), "B two.": "no json", "C three.": LLMError("down")}
    llm = ScriptedLLM(lambda request, i: next(a for k, a in answers.items() if k in prompt_of(request)))
    assert write_templates(llm, list(answers), TYPES, ENTITIES) == ["[PER] one .", None, None]
    assert "[PER], [LOC]" in prompt_of(llm.requests[0]) and llm.requests[0].temperature == 0.0


def test_the_worked_example_in_the_prompt_uses_the_projects_own_types_and_entities():
    types = {"person": "people", "creative-work": "titles", "product": "goods"}
    llm = ScriptedLLM.always(_template("[person] liked it ."))
    write_templates(llm, ["Bob liked it."], types, {"person": ["Ana Lima"], "creative-work": ["Blue Moon"]})
    prompt = prompt_of(llm.requests[0])
    assert "Sentence: According to Ana Lima, the plan for Blue Moon changed last week." in prompt
    assert '"According to [person], the plan for [creative-work] changed last week."' in prompt
    assert "[PER]" not in prompt and "[LOC]" not in prompt  # small models copy the example's slot names


def test_template_examples_fill_each_template_several_times_and_cap_negatives():
    templates = {
        "f1": "[PER] lives in [LOC] now .", "f2": "Nothing named here at all .",
        "f3": "Still nothing named here .", "f4": "[PER] met Zed in [LOC] .",
    }
    llm = ScriptedLLM(lambda request, i: _template(next(t for k, t in templates.items() if k in prompt_of(request))))
    candidates = [[feature] for feature in templates]
    sentences, reasons = template_examples(llm, candidates, TYPES, ENTITIES, per_feature=3, seed=1)
    positives = [s for s in sentences if s.spans]
    negatives = [s for s in sentences if not s.spans]
    assert len(positives) == 3 and all(s.text.endswith(" now .") for s in positives)
    assert len(negatives) == 1  # 25% cap: one negative for three positives
    assert reasons["unlabeled name"] == 1 and reasons["negatives over the cap"] == 1


def test_a_cluster_whose_nearest_sentence_fails_falls_back_to_its_next_candidate():
    templates = {"near": "[PER] met Zed here .", "next": "[PER] stayed home ."}
    llm = ScriptedLLM(lambda request, i: _template(next(t for k, t in templates.items() if k in prompt_of(request))))
    settled: list[int] = []
    sentences, reasons = template_examples(llm, [["near", "next"]], TYPES, ENTITIES, per_feature=1,
                                           progress=settled.append)
    assert [s.text.endswith("stayed home .") for s in sentences] == [True]
    assert reasons["unlabeled name"] == 1 and len(llm.batches) == 2 and settled == [1]


def test_a_template_whose_slot_the_recognizer_types_otherwise_is_refused_and_the_next_tried():
    from reversener.reverse_template import slot_names

    sentences_for = {"They beat out Korn .": "They beat out [PER] .", "Korn toured Oslo .": "[PER] toured [LOC] ."}
    llm = ScriptedLLM(
        lambda request, i: _template(next(t for k, t in sentences_for.items() if k in prompt_of(request))))
    asked: list[list[str]] = []

    def verify(features):
        asked.append(list(features))
        return [{"korn": {"ORG"}} if "beat" in f else {"oslo": {"LOC"}} for f in features]

    sentences, reasons = template_examples(llm, [["They beat out Korn .", "Korn toured Oslo ."]], TYPES, ENTITIES,
                                           per_feature=1, verify=verify)
    assert reasons["slot type disputed"] == 1 and asked == [["They beat out Korn ."], ["Korn toured Oslo ."]]
    assert [s.text.endswith(" toured " + s.text[s.spans[1].start:s.spans[1].end] + " .") for s in sentences] == [True]
    # The template keeps the other words: its slots are read back against the tokenized sentence.
    assert slot_names("They beat out [PER], then left.", "They beat out Korn , then left .") == [("PER", "korn")]
    assert slot_names("Someone else [PER].", "They beat out Korn .") is None
