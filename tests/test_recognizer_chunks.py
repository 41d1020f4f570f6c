"""The recognizer on paragraphs: packed chunks, each with its own demonstrations, bounded prompts and answers."""

from __future__ import annotations

import math

import pytest

from reversener.config import MethodConfig
from reversener.recognizer import Recognizer
from reversener.types import Example, Span

from .scripted_llm import FakeEmbedder, ScriptedLLM, entities_answer, library_of, prompt_of

TYPES = {"PER": "people", "LOC": "places", "ORG": "organisations"}
PARAGRAPH = ("Carole Montillet won the downhill in Val d'Isère. Mr. Smith of France was second. "
             "The race was held on Jan. 5 in thick fog. Organisers had delayed the start twice. "
             "Ajax fans travelled from Amsterdam to watch. Ajax later thanked them.")


def _names(text: str):
    """What the fake LLM finds: the paragraph's names that are in the text it is asked about."""
    return entities_answer(*((n, t) for n, t in [("Carole Montillet", "PER"), ("Smith", "PER"), ("France", "LOC"),
                                           ("Ajax", "ORG"), ("Amsterdam", "LOC")] if n in text))


def _respond(request, i):
    return _names(prompt_of(request))


@pytest.mark.parametrize("with_library", [False, True])
def test_a_six_sentence_paragraph_costs_fewer_llm_calls_than_its_sentences(with_library):
    examples = [Example(f"e{i}", f"Maria walked to Rome {i}.", (Span(0, 5, "PER"), Span(16, 20, "LOC")))
                for i in range(6)]
    found, calls = {}, {}
    for pack in (True, False):
        embedder = FakeEmbedder()
        library = library_of(TYPES, embedder, *examples) if with_library else None
        llm = ScriptedLLM(_respond)
        recognizer = Recognizer(llm, embedder, TYPES, library, MethodConfig(pack_sentences=pack))
        [found[pack]] = recognizer.recognize([PARAGRAPH])
        calls[pack] = len(llm.requests)
    per_chunk = 2 if with_library else 1  # the default method also asks each chunk zero-shot
    assert calls == {True: per_chunk, False: 6 * per_chunk}
    assert found[True].spans == found[False].spans and len(found[True].spans) == 6


def test_each_chunk_is_shown_the_demonstrations_retrieved_for_its_own_text():
    embedder = FakeEmbedder()
    skiing = Example("ski", "Carole Montillet won the slalom in Val d'Isère.", (Span(0, 16, "PER"),))
    football = Example("foot", "Ajax fans travelled from Amsterdam to Rotterdam.", (Span(0, 4, "ORG"),))
    others = [Example(f"o{i}", f"Quarterly revenue grew by {i} percent.", ()) for i in range(4)]
    llm = ScriptedLLM(_respond)
    config = MethodConfig(demonstrations=1, human_demonstrations=0, max_chunk_chars=200, combine_zero_shot=False,
                          pack_sentences=True)
    library = library_of(TYPES, embedder, skiing, football, *others)
    Recognizer(llm, embedder, TYPES, library, config).recognize([PARAGRAPH])
    asked = {prompt_of(r).split(". ")[0]: r.messages[1][1] for r in llm.requests}
    assert len(asked) == 2  # two chunks, one request each
    assert "Val d'Isère" in asked["Text: Carole Montillet won the downhill in Val d'Isère"]
    assert "Rotterdam" in next(shown for chunk, shown in asked.items() if "Organisers" in chunk or "Ajax" in chunk)


def test_a_long_chunks_answer_may_be_longer_and_its_prompt_stays_bounded():
    embedder = FakeEmbedder()
    paragraph = " ".join([PARAGRAPH] * 3)  # 3 x 236 characters: one chunk of the default 1,000
    whole_document = Example("h-old", paragraph * 2, (Span(0, 16, "PER"),), "human")  # stored before splitting
    correction = Example("h-new#0", PARAGRAPH, (Span(0, 16, "PER"),), "human")
    generated = [Example(f"g{i}", f"Carole Montillet won in Oslo {i}.", (Span(0, 16, "PER"),)) for i in range(4)]
    llm = ScriptedLLM(_respond)
    config = MethodConfig(human_demonstrations=2, pack_sentences=True)
    library = library_of(TYPES, embedder, whole_document, correction, *generated)
    Recognizer(llm, embedder, TYPES, library, config).recognize([paragraph, "Ajax won."])
    long_few, long_zero, short_few, short_zero = llm.requests
    assert long_few.max_tokens == long_zero.max_tokens == math.ceil(0.75 * len(paragraph)) > 384
    assert short_few.max_tokens == short_zero.max_tokens == 384
    shown = [content for role, content in long_few.messages[1:-1] if role == "user"]
    assert len(shown) == 5 and not any(paragraph * 2 in s for s in shown)  # the whole document is never shown
    assert sum(len(content) for _, content in long_few.messages[1:]) < 6 * config.max_chunk_chars + 2_000


def test_a_paragraphs_answer_cut_off_mid_list_keeps_the_entities_before_the_cut():
    names = [f"Runner{i} Smith" for i in range(15)]
    text = ", ".join(names) + " finished the race."
    answer = entities_answer(*((n, "PER") for n in names))
    llm = ScriptedLLM.always(answer[: answer.index("Runner12") + 3])  # the token limit struck inside the 13th
    [found] = Recognizer(llm, FakeEmbedder(), TYPES).recognize([text])
    assert found.error is None and [text[s.start : s.end] for s in found.spans] == names[:12]
