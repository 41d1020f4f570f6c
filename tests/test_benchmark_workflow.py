"""The workflow benchmark's tasks and its reading of what `prelabel` says the LLM cost."""

from __future__ import annotations

import pytest
import typer

from benchmarks.workflow import SPENT, texts_for
from reversener.text import split_sentences

from .shared_data import needs_shared


@needs_shared
def test_paragraph_tasks_are_distinct_runs_of_about_five_sentences():
    texts = texts_for("paragraph", 12)
    assert len(set(texts)) == 12
    counts = [len(split_sentences(t)) for t in texts]
    assert max(counts) <= 9 and 4 <= sum(counts) / len(counts) <= 6  # a short document is one short task
    assert texts == texts_for("paragraph", 12)  # seeded


@needs_shared
def test_sentence_tasks_and_an_unknown_unit():
    assert len(texts_for("sentence", 5)) == 5
    with pytest.raises(typer.BadParameter, match="paragraph"):
        texts_for("document", 5)


def test_the_cost_line_is_read_even_when_the_terminal_wraps_it():
    line = ("LLM: library build 31 calls, 20113 prompt and 2044\ncompletion tokens, 300 s; tasks 290 calls, "
            "250113 prompt and 20044 completion tokens, 2100 s")
    assert SPENT.findall(line) == [("31", "20113", "2044", "300"), ("290", "250113", "20044", "2100")]
