"""The LLM seam's values: a request, a reply (completions or an error), and the one client wrapper."""

from __future__ import annotations

import pytest

from reversener.errors import LLMError
from reversener.llm.client import Completion, LLMReply, LLMRequest, ObservedLLM

from .scripted_llm import ScriptedLLM


def test_a_reply_holds_completions_or_an_error_never_both_nor_neither():
    answered = LLMReply((Completion("a", (("a", -0.1),)), Completion("b")))
    failed = LLMReply(error=LLMError("down"))
    assert answered.ok and answered.texts == ["a", "b"] and answered.completions[0].logprobs == (("a", -0.1),)
    assert not failed.ok and failed.texts == [] and str(failed.error) == "down"
    assert LLMReply.of("a", "b") == LLMReply((Completion("a"), Completion("b")))
    for bad in ({}, {"completions": (Completion("a"),), "error": LLMError("down")}):
        with pytest.raises(ValueError, match="either completions or an error"):
            LLMReply(**bad)


def test_a_request_needs_a_sample():
    with pytest.raises(ValueError, match="at least one sample"):
        LLMRequest((("user", "hi"),), samples=0)


def test_an_observed_client_shows_each_batch_of_replies_and_returns_them_unchanged():
    llm = ScriptedLLM.sequence(["first", LLMError("down")])
    seen: list[list[LLMReply]] = []
    observed = ObservedLLM(llm, seen.append)
    replies = observed.complete([LLMRequest((("user", "a"),)), LLMRequest((("user", "b"),))])
    assert seen == [replies] and replies[0].texts == ["first"] and str(replies[1].error) == "down"
    assert observed.model == llm.model and observed.stats is llm.stats
