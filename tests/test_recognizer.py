"""Inference: demonstrations, parsing, alignment, voting and failures, against a scripted LLM."""

from __future__ import annotations

import json
import math
import re

import pytest

from reversener.config import MethodConfig
from reversener.corrections import Hints
from reversener.errors import LLMError
from reversener.recognizer import Recognizer, answer_json
from reversener.types import Example, Sentence, Span

from .scripted_llm import FakeEmbedder, ScriptedLLM, entities_answer, library_of, prompt_of

TYPES = {"PER": "people", "LOC": "places"}


def test_zero_shot_prompt_has_no_demonstrations_and_finds_entities():
    llm = ScriptedLLM.always(entities_answer(("Anna", "PER"), ("Oslo", "LOC")))
    recognizer = Recognizer(llm, FakeEmbedder(), TYPES)
    [found] = recognizer.recognize(["Anna flew to Oslo and Anna stayed."])
    assert recognizer.zero_shot
    assert [(found.text[s.start : s.end], s.label) for s in found.spans] == [
        ("Anna", "PER"), ("Oslo", "LOC"), ("Anna", "PER")]
    roles = [role for role, _ in llm.requests[0].messages]
    assert roles == ["system", "user"] and "PER: people" in llm.requests[0].messages[0][1]
    assert llm.requests[0].temperature == 0.0 and llm.requests[0].samples == 1


def test_hints_of_the_recognizers_types_follow_the_instructions_and_no_hint_leaves_the_prompt_as_it_was():
    def system(hints: Hints | None) -> str:
        llm = ScriptedLLM.always(entities_answer())
        Recognizer(llm, FakeEmbedder(), TYPES, hints=hints).recognize(["Anna flew to Vexmoor."])
        return llm.requests[0].messages[0][1]

    plain = system(None)
    assert system(Hints({})) == plain and system(Hints({"ORG": ("Acme",)})) == plain  # not of these types
    hinted = system(Hints({"LOC": ("Vexmoor",), "ORG": ("Acme",)}, ("May",)))
    assert hinted.startswith(plain + "\n\n") and "- labeled LOC: Vexmoor\n- not an entity: May" in hinted
    assert "Acme" not in hinted


def test_nearest_examples_become_demonstrations_most_similar_last():
    embedder = FakeEmbedder()
    near = Example("a", "Maria walked to Rome yesterday.", (Span(0, 5, "PER"), Span(16, 20, "LOC")))
    far = Example("b", "Quarterly revenue grew by nine percent.", ())
    middle = Example("c", "Maria walked home.", (Span(0, 5, "PER"),))
    llm = ScriptedLLM.always(entities_answer())
    recognizer = Recognizer(llm, embedder, TYPES, library_of(TYPES, embedder, near, far, middle),
                            MethodConfig(demonstrations=2))
    recognizer.recognize(["Maria walked to Paris yesterday."])
    messages = llm.requests[0].messages
    assert [role for role, _ in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "Maria walked to Rome yesterday." in messages[3][1]  # nearest sits next to the question
    assert json.loads(messages[4][1]) == {"entities": [{"text": "Maria", "type": "PER"},
                                                       {"text": "Rome", "type": "LOC"}]}
    assert "Quarterly" not in " ".join(content for _, content in messages)


def test_human_corrections_are_shown_beside_the_generated_examples_not_instead_of_them():
    embedder = FakeEmbedder()
    generated = [Example(f"g{i}", f"Maria walked to Rome on day {i}.", (Span(0, 5, "PER"), Span(16, 20, "LOC")))
                 for i in range(3)]
    corrections = [Example(f"h{i}", f"Quarterly revenue in Acme grew {i} percent.", (Span(21, 25, "LOC"),), "human")
                   for i in range(3)]
    llm = ScriptedLLM.always(entities_answer())
    Recognizer(llm, embedder, TYPES, library_of(TYPES, embedder, *generated, *corrections),
               MethodConfig(demonstrations=2, human_demonstrations=1)).recognize(["Maria walked to Paris on day 7."])
    shown = [content for role, content in llm.requests[0].messages[1:-1] if role == "user"]
    assert sum("Maria" in s for s in shown) == 2 and sum("Acme" in s for s in shown) == 1


def test_corrections_take_generated_places_as_they_accumulate_and_those_that_fixed_errors_go_first():
    embedder = FakeEmbedder()
    generated = [Example(f"g{i}", f"Maria walked to Rome on day {i}.", (Span(0, 5, "PER"), Span(16, 20, "LOC")))
                 for i in range(4)]
    accepted = [Example(f"h{i}", f"Maria walked to Oslo on day {i}.", (Span(0, 5, "PER"), Span(16, 20, "LOC")),
                        "human") for i in range(3)]
    fixed = Example("h-fixed", "Maria drove to Oslo with Pierre later on.", (Span(0, 5, "PER"), Span(15, 19, "LOC"),
                                                                             Span(25, 31, "PER")), "human", fixes=1)
    library = library_of(TYPES, embedder, *generated, *accepted, fixed)
    question = "Maria walked to Paris on day 7."

    def shown(**config) -> list[str]:
        llm = ScriptedLLM.always(entities_answer())
        Recognizer(llm, embedder, TYPES, library, MethodConfig(demonstrations=4, human_demonstrations=1, **config)
                   ).recognize([question])
        return [content.removeprefix("Text: ") for role, content in llm.requests[0].messages[1:-1] if role == "user"]

    def counted(texts: list[str]) -> tuple[int, int]:
        return sum("Rome" in t for t in texts), sum("Oslo" in t for t in texts)

    assert counted(shown()) == (4, 1) and "Pierre" not in " ".join(shown())  # the fixed one is not the nearest
    assert counted(shown(corrections_per_slot=2)) == (2, 3)  # 4 corrections: 2 generated places handed over
    assert counted(shown(corrections_per_slot=1)) == (1, 4)  # never the last generated one
    assert counted(shown(fixes_first=4)) == (4, 1) and fixed.text in shown(fixes_first=4)
    assert fixed.text not in shown(fixes_first=1)  # a pool no larger than the places: nearest first


def test_a_type_the_model_misses_is_shown_by_the_nearest_correction_that_holds_it():
    embedder = FakeEmbedder()
    types = TYPES | {"MISC": "nationalities"}
    generated = [Example(f"g{i}", f"Maria walked to Rome on day {i}.", (Span(0, 5, "PER"), Span(16, 20, "LOC")))
                 for i in range(4)]
    near = Example("h-near", "Maria walked to Rome on day 9 again.", (Span(0, 5, "PER"),), "human")
    misc = [Example("h-misc", "The Dutch team won the final.", (Span(4, 9, "MISC"),), "human"),
            Example("h-misc-far", "Quarterly revenue of Dutch firms grew.", (Span(21, 26, "MISC"),), "human")]
    library = library_of(types, embedder, *generated, near, *misc)

    def shown(cover: list[str], coverage: int) -> list[str]:
        llm = ScriptedLLM.always(entities_answer())
        config = MethodConfig(demonstrations=2, human_demonstrations=1, coverage_demonstrations=coverage)
        Recognizer(llm, embedder, types, library, config, cover=cover).recognize(["Maria walked to Paris on day 7."])
        return [content.removeprefix("Text: ") for role, content in llm.requests[0].messages[1:-1] if role == "user"]

    assert "The Dutch team won the final." not in shown(["MISC"], 0)  # off by default
    assert shown([], 1) == shown(["MISC"], 0)  # nothing missed: nothing added
    with_misc = shown(["LOC", "MISC"], 1)  # LOC is shown already; MISC by the nearest correction that holds it
    nearest = library.nearest(embedder.embed(["Maria walked to Paris on day 7."])[0], 0, None, 1, label="MISC")[0]
    assert with_misc[0] == nearest.text and len(with_misc) == 4  # first: the farthest from the question
    assert sum("Dutch" in text for text in with_misc) == 1


def test_at_most_a_quarter_of_the_demonstrations_are_entity_free():
    embedder = FakeEmbedder()
    empties = [Example(f"e{i}", f"Nothing named walked to the park {i}.", ()) for i in range(4)]
    named = Example("n", "Maria walked to Rome.", (Span(0, 5, "PER"), Span(16, 20, "LOC")))
    llm = ScriptedLLM.always(entities_answer())
    recognizer = Recognizer(llm, embedder, TYPES, library_of(TYPES, embedder, *empties, named))
    recognizer.recognize(["Nothing named walked to the park."])
    answers = [json.loads(content) for role, content in llm.requests[0].messages if role == "assistant"]
    assert len(answers) == 2 and sum(not a["entities"] for a in answers) == 1  # m = 4, share 0.25


def test_an_entity_free_demonstration_goes_first_even_when_it_is_the_most_similar():
    embedder = FakeEmbedder()
    empty = Example("e", "Nothing named walked to the park.", (), "human")
    named = [Example(f"n{i}", f"Maria walked to Rome {i}.", (Span(0, 5, "PER"), Span(16, 20, "LOC")))
             for i in range(2)]
    llm = ScriptedLLM.always(entities_answer())
    Recognizer(llm, embedder, TYPES, library_of(TYPES, embedder, empty, *named),
               MethodConfig(demonstrations=2, human_demonstrations=2)).recognize(["Nothing named walked to the park."])
    answers = [json.loads(content)["entities"] for role, content in llm.requests[0].messages if role == "assistant"]
    assert len(answers) == 3 and answers[0] == [] and all(answers[1:])


def test_a_library_that_fits_in_one_prompt_is_shown_whole_without_embedding_the_texts():
    embedder = FakeEmbedder()
    named = [Example(f"n{i}", f"Maria walked to Rome {i}.", (Span(0, 5, "PER"), Span(16, 20, "LOC")))
             for i in range(4)]
    library = library_of(TYPES, embedder, *named)
    embedder.calls.clear()
    llm = ScriptedLLM.always(entities_answer())
    recognizer = Recognizer(llm, embedder, TYPES, library, MethodConfig(demonstrations=4, combine_zero_shot=False))
    recognizer.recognize(["Anna flew to Oslo.", "Quarterly revenue grew."])
    assert embedder.calls == []
    shown = [[content for role, content in r.messages[1:-1] if role == "user"] for r in llm.requests]
    assert shown[0] == shown[1] and len(shown[0]) == 4 and all("Maria" in s for s in shown[0])
    # One more example than the prompt shows: each text gets its nearest again, so its text is embedded.
    text = "Maria walked to Rome 4."
    library.upsert(Example("n4", text, named[0].spans), embedder.embed([text])[0])
    embedder.calls.clear()
    recognizer.recognize(["Anna flew to Oslo."])
    assert embedder.calls == [["Anna flew to Oslo."]]


def test_random_demonstrations_ablation_still_shows_m_examples():
    embedder = FakeEmbedder()
    examples = [Example(str(i), f"Person{i} lives here.", ()) for i in range(6)]
    llm = ScriptedLLM.always(entities_answer())
    recognizer = Recognizer(llm, embedder, TYPES, library_of(TYPES, embedder, *examples),
                            MethodConfig(demonstrations=3, demo_strategy="random"))
    recognizer.recognize(["Some text."])
    assert sum(role == "assistant" for role, _ in llm.requests[0].messages) == 3


def test_invented_entities_and_unknown_types_are_dropped():
    llm = ScriptedLLM.always(entities_answer(("Bob", "PER"), ("Atlantis", "LOC"), ("Oslo", "ORG")))
    [found] = Recognizer(llm, FakeEmbedder(), TYPES).recognize(["Bob likes Oslo."])
    assert found.spans == (Span(0, 3, "PER"),)


def test_self_consistency_votes_per_span_and_type():
    answers = [entities_answer(("Bob", "PER"), ("Oslo", "LOC")), entities_answer(("Bob", "PER")),
               entities_answer(("Bob", "PER"), ("Oslo", "PER")), "not json at all", entities_answer(("Bob", "PER"))]
    llm = ScriptedLLM(lambda request, i: answers[i])
    config = MethodConfig(samples=5, temperature=0.7, vote_threshold=0.5)
    [found] = Recognizer(llm, FakeEmbedder(), TYPES, config=config).recognize(["Bob likes Oslo."])
    assert found.spans == (Span(0, 3, "PER"),) and found.spans[0].score == 0.8
    assert llm.requests[0].samples == 5 and llm.requests[0].temperature == 0.7
    assert any("no JSON" in p for p in found.problems)


def test_a_failed_llm_call_is_an_error_not_an_empty_prediction():
    def respond(request, i):
        return LLMError("timed out") if "Oslo" in prompt_of(request) else entities_answer(("Bob", "PER"))

    found = Recognizer(ScriptedLLM(respond), FakeEmbedder(), TYPES).recognize(["Bob is here.", "Oslo."])
    assert found[0].spans == (Span(0, 3, "PER"),) and not found[0].problems and found[0].error is None
    assert found[1].spans == () and "timed out" in found[1].error


def test_an_unreadable_answer_is_an_error_unless_another_sample_was_read():
    def respond(request, i):
        return "I think Bob is a person" if i == 0 or "Oslo" in prompt_of(request) else entities_answer(("Bob", "PER"))

    greedy = Recognizer(ScriptedLLM(respond), FakeEmbedder(), TYPES).recognize(["Bob is here."])[0]
    assert "no JSON" in greedy.error
    voted = Recognizer(ScriptedLLM(respond), FakeEmbedder(), TYPES, config=MethodConfig(samples=3, vote_threshold=0.5))
    found, unreadable = voted.recognize(["Bob is here.", "Oslo."])
    assert found.error is None and found.spans == (Span(0, 3, "PER", 2 / 3),) and found.problems
    assert "no JSON" in unreadable.error


@pytest.mark.parametrize(("pack", "requests"), [(True, 16), (False, 200)])
def test_long_texts_are_chunked_and_offsets_map_back(pack, requests):
    sentence = "Bob went home. "
    text = sentence * 200  # 3,000 characters, more than one chunk
    llm = ScriptedLLM.always(entities_answer(("Bob", "PER")))
    config = MethodConfig(max_chunk_chars=200, max_chunks=200, pack_sentences=pack)
    [found] = Recognizer(llm, FakeEmbedder(), TYPES, config=config).recognize([text])
    assert len(llm.requests) == requests  # 13 sentences (194 characters) per chunk, or one chunk per sentence
    assert len(found.spans) == 200 and all(text[s.start : s.end] == "Bob" for s in found.spans)


def test_emoji_and_accents_before_entities_keep_code_point_offsets():
    text = "🎉🎉 Zoë met Anna in Köln"
    llm = ScriptedLLM.always(entities_answer(("Anna", "PER"), ("Köln", "LOC")))
    [found] = Recognizer(llm, FakeEmbedder(), TYPES).recognize([text])
    assert [text[s.start : s.end] for s in found.spans] == ["Anna", "Köln"]


def test_empty_and_blank_texts_make_no_calls():
    llm = ScriptedLLM.always(entities_answer(("Bob", "PER")))
    found = Recognizer(llm, FakeEmbedder(), TYPES).recognize(["", "   "])
    assert [f.spans for f in found] == [(), ()] and llm.requests == []


def test_answer_json_lists_entities_in_text_order():
    sentence = Sentence("Oslo and Bob", (Span(9, 12, "PER"), Span(0, 4, "LOC")))
    assert json.loads(answer_json(sentence)) == {
        "entities": [{"text": "Oslo", "type": "LOC"}, {"text": "Bob", "type": "PER"}]}


def test_a_text_longer_than_max_chunks_gets_its_beginning_predicted_and_a_reason():
    text = "Bob went home. " * 50
    llm = ScriptedLLM.always(entities_answer(("Bob", "PER")))
    config = MethodConfig(max_chunk_chars=100, max_chunks=5, pack_sentences=True)
    [found] = Recognizer(llm, FakeEmbedder(), TYPES, config=config).recognize([text])
    assert len(llm.requests) == 5 and len(found.spans) == 5 * 6  # six 15-character sentences per chunk
    assert found.problems and "first 5 of 9 chunks (characters 0-450 of 750)" in found.problems[0]
    assert max(s.end for s in found.spans) < 450  # reconciling names adds nothing where nothing was asked


def test_a_slices_llm_calls_start_before_later_slices_are_embedded():
    import threading

    from reversener.recognizer import PIPELINE_SLICE

    first_call = threading.Event()
    waited: list[bool] = []

    class SlowEmbedder(FakeEmbedder):
        def embed(self, texts):
            if self.calls:  # a later slice: the first slice's calls must already be under way
                waited.append(first_call.wait(timeout=5))
            return super().embed(texts)

    def respond(request, i):
        first_call.set()
        return '{"entities": []}'

    texts = [f"Sentence number {n} about Oslo." for n in range(2 * PIPELINE_SLICE + 3)]
    llm = ScriptedLLM(respond)
    library = library_of(TYPES, FakeEmbedder(), *(Example(f"e{i}", f"Anna met Bo in Oslo {i}.", (Span(0, 4, "PER"),))
                                         for i in range(7)))  # more than one prompt shows: retrieval embeds
    found = Recognizer(llm, SlowEmbedder(), TYPES, library, MethodConfig()).recognize(texts)
    assert waited == [True, True] and len(llm.batches) == 3
    assert [p.text for p in found] == texts  # answers come back in order
    # Each text with its demonstrations, and (COMBINE_ZERO_SHOT, the default) without.
    assert sorted(len(r.messages) > 2 for r in llm.requests) == [False] * len(texts) + [True] * len(texts)


def test_combining_asks_with_and_without_demonstrations_and_keeps_agreement_or_confidence():
    from reversener.llm.client import Completion

    def respond(request, i):
        few_shot = len(request.messages) > 2
        body = (('{"entities": [{"text": "Anna", "type": "PER"}, {"text": "Bo", "type": "PER"}]}', "Bo", -2.0)
                if few_shot else ('{"entities": [{"text": "Anna", "type": "PER"}, {"text": "Oslo", "type": "LOC"}]}',
                                  "Oslo", -0.1))
        text, unsure, logprob = body
        return Completion(text, tuple((token, logprob if token == unsure else 0.0)
                                      for token in re.findall(r"\w+|\W", text)))

    library = library_of(TYPES, FakeEmbedder(), Example("e1", "Anna met Bo in Oslo.", (Span(0, 4, "PER"),)))
    llm = ScriptedLLM(respond)
    recognizer = Recognizer(llm, FakeEmbedder(), TYPES, library, MethodConfig(combine_zero_shot=True))
    [found] = recognizer.recognize(["Anna met Bo in Oslo."])
    assert [len(r.messages) > 2 for r in llm.requests] == [True, False]
    # Anna: both say it; Oslo: zero-shot alone, sure (0.90); Bo: few-shot alone, unsure (0.14).
    assert [(found.text[s.start:s.end], s.label) for s in found.spans] == [("Anna", "PER"), ("Oslo", "LOC")]
    assert found.confidence == pytest.approx(math.exp(-2.0))  # the least sure of the two answers
    assert found.score == pytest.approx(math.exp(-2.0) * math.exp(-0.1) / 2)  # times Oslo's: one answer's 0.90, halved


def test_a_row_composed_from_the_two_answers_rows_is_what_the_combined_method_gives():
    from reversener.evaluation import compose, per_sentence
    from reversener.llm.client import Completion

    def respond(request, i):
        text, few_shot = request.messages[-1][1], len(request.messages) > 2
        if "left" in text and few_shot:
            return LLMError("timed out")
        if ("saw" in text and few_shot) or "cold" in text:
            return "no JSON here"
        if few_shot:
            names = (("Anna", "PER", 0.0), ("Bo", "PER", -2.0))
        else:
            names = (("Anna", "PER", -0.05), ("Oslo", "LOC", -0.1))
        found = [(n, t, lp) for n, t, lp in names if n in text.split("Text:")[-1]]
        body = entities_answer(*((n, t) for n, t, _ in found))
        unsure = {n: lp for n, _, lp in found}
        return Completion(body, tuple((token, unsure.get(token, 0.0)) for token in re.findall(r"\w+|\W", body)))

    texts = ["Anna met Bo in Oslo.", "Bo saw Oslo.", "Anna left.", "Oslo is cold.", "Anna and Bo."]
    library = library_of(TYPES, FakeEmbedder(), Example("e1", "Anna met Bo in Oslo.", (Span(0, 4, "PER"),)))
    llm = ScriptedLLM(respond)

    def record(library, **config):
        return per_sentence(Recognizer(llm, FakeEmbedder(), TYPES, library, MethodConfig(**config)).recognize(texts))

    combined = record(library)
    parts = [record(library, combine_zero_shot=False), record(None)]
    composed = compose(Recognizer(llm, FakeEmbedder(), TYPES, None, MethodConfig()), parts, texts)
    assert composed == combined
    errors = [e and e.split(":")[0] for e in combined["errors"]]
    assert errors == [None, None, "LLM failed", "LLM answer unusable", None]
    assert [len(spans) for spans in combined["spans"]] == [2, 1, 0, 0, 1]  # Bo alone scores 0.14: dropped
