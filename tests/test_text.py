"""Tests for reversener.text: sentence splitting and chunking that keep character offsets."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from reversener.text import chunk_text, split_sentences


def pieces(text: str, offsets: list[tuple[int, int]]) -> list[str]:
    return [text[start:end] for start, end in offsets]


def test_offsets_slice_each_sentence():
    text = "The cat sat. The dog ran! Did it rain? Yes."
    offsets = split_sentences(text)
    assert offsets == [(0, 12), (13, 25), (26, 38), (39, 43)]
    assert pieces(text, offsets) == ["The cat sat.", "The dog ran!", "Did it rain?", "Yes."]


def test_surrounding_whitespace_is_trimmed():
    text = "   First one.    Second one.   "
    assert pieces(text, split_sentences(text)) == ["First one.", "Second one."]


def test_title_abbreviation_does_not_split():
    text = "Mr. Smith went to Washington. Dr. Jones stayed home."
    assert pieces(text, split_sentences(text)) == ["Mr. Smith went to Washington.", "Dr. Jones stayed home."]


def test_single_initial_does_not_split():
    text = "He met J. Doe in Rome. She left."
    assert pieces(text, split_sentences(text)) == ["He met J. Doe in Rome.", "She left."]


def test_closing_quote_stays_with_its_sentence():
    text = 'He said "Stop." Then he left.'
    assert pieces(text, split_sentences(text)) == ['He said "Stop."', "Then he left."]


def test_closing_bracket_stays_with_its_sentence():
    text = "She asked (why?) Then nothing happened."
    assert pieces(text, split_sentences(text)) == ["She asked (why?)", "Then nothing happened."]


def test_no_split_before_lowercase():
    text = "Prices rose 5.5 percent. in fact they doubled."
    assert pieces(text, split_sentences(text)) == ["Prices rose 5.5 percent. in fact they doubled."]


def test_newlines_split_and_blank_lines_vanish():
    text = "Line one\nLine two\n\n   Line three  \n"
    offsets = split_sentences(text)
    assert pieces(text, offsets) == ["Line one", "Line two", "Line three"]
    assert offsets[2] == (text.index("Line three"), text.index("Line three") + len("Line three"))


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_blank_text_has_no_sentences(text):
    assert split_sentences(text) == []
    assert chunk_text(text, 50) == []


def test_chunks_are_sentences_when_short():
    text = "Short one. Another short one."
    assert chunk_text(text, 300) == split_sentences(text)


def assert_covers(text: str, chunks: list[tuple[int, int]], max_chars: int) -> None:
    """Every chunk fits, chunks are in order without overlap, and no non-space character is lost."""
    assert chunks, "no chunks"
    assert all(0 <= start < end <= len(text) for start, end in chunks)
    assert max(end - start for start, end in chunks) <= max_chars
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(chunks))
    joined = "".join(text[start:end] for start, end in chunks)
    assert "".join(joined.split()) == "".join(text.split())


def test_chunking_text_without_spaces_cuts_hard():
    text = "".join(random.Random(1).choice("abcdefghij") for _ in range(10_000))
    chunks = chunk_text(text, 300)
    assert_covers(text, chunks, 300)
    assert chunks[0] == (0, 300)
    assert len(chunks) == 34  # ceil(10000 / 300)


def test_chunking_text_with_spaces_cuts_between_words():
    rng = random.Random(2)
    words = ["".join(rng.choice("abcdefg") for _ in range(rng.randint(1, 12))) for _ in range(2_000)]
    text = " ".join(words)[:10_000]
    chunks = chunk_text(text, 300)
    assert_covers(text, chunks, 300)
    # a cut falls on a space, so no chunk ends inside a word (except at the end of the text)
    assert all(end == len(text) or text[end] == " " for _, end in chunks)
    assert all(start == 0 or text[start - 1] == " " for start, _ in chunks)


def test_chunking_keeps_sentence_boundaries():
    long_sentence = "Then " + " ".join(["word"] * 40) + "."
    text = f"Short start. {long_sentence} Short end."
    chunks = chunk_text(text, 50)
    assert_covers(text, chunks, 50)
    assert pieces(text, chunks)[0] == "Short start."
    assert pieces(text, chunks)[-1] == "Short end."
