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


def test_chunks_are_sentences_when_not_packed_and_one_chunk_when_they_fit():
    text = "Short one. Another short one."
    assert chunk_text(text, 300, pack=False) == split_sentences(text)
    assert chunk_text(text, 300) == [(0, len(text))]


def assert_sentence_aligned(text: str, chunks: list[tuple[int, int]], budget: int) -> None:
    """Chunks begin and end at sentences, and each is full: its next sentence would not have fitted."""
    sentences = split_sentences(text)
    starts, ends = [start for start, _ in sentences], [end for _, end in sentences]
    assert all(start in starts and end in ends for start, end in chunks)
    for (start, _), (next_start, _) in zip(chunks, chunks[1:], strict=False):
        assert ends[starts.index(next_start)] - start > budget


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
    chunks = chunk_text(text, 50, pack=False)
    assert_covers(text, chunks, 50)
    assert pieces(text, chunks)[0] == "Short start."
    assert pieces(text, chunks)[-1] == "Short end."


PARAGRAPH = ("Carole Montillet won the downhill in Val d'Isère. Mr. Smith of France was second. "
             "The race was held on Jan. 5 in thick fog. Organisers had delayed the start twice. "
             "Ajax fans travelled from Amsterdam to watch. Ajax later thanked them.")


def test_consecutive_sentences_are_packed_up_to_the_budget_never_cut_inside_one():
    sentences = split_sentences(PARAGRAPH)
    assert len(sentences) == 6  # "Mr." and "Jan." end no sentence
    for budget in (100, 150, 250, len(PARAGRAPH)):
        chunks = chunk_text(PARAGRAPH, budget)
        assert_covers(PARAGRAPH, chunks, budget)
        assert_sentence_aligned(PARAGRAPH, chunks, budget)
    assert chunk_text(PARAGRAPH, len(PARAGRAPH)) == [(0, len(PARAGRAPH))]


@pytest.mark.parametrize("line", ["3. Carole Montillet ( France ) 1:18.11", "3 . Carole Montillet ( France ) 1:18.11",
                                  "(12. Kjetil Andre Aamodt ( Norway ) 1:18.40"])
def test_a_list_number_stays_with_its_line(line):
    text = f"Results of the downhill:\n{line}\n4. Picabo Street ( USA ) 1:18.20"
    assert pieces(text, split_sentences(text)) == ["Results of the downhill:", line, "4. Picabo Street ( USA ) 1:18.20"]
    assert pieces(text, chunk_text(text, 45)) == ["Results of the downhill:", line, "4. Picabo Street ( USA ) 1:18.20"]


def test_a_number_that_ends_a_sentence_still_ends_it():
    text = "He was born in 1990. Then he moved. She finished 3. Bob won."
    expected = ["He was born in 1990.", "Then he moved.", "She finished 3.", "Bob won."]
    assert pieces(text, split_sentences(text)) == expected


def test_month_abbreviations_do_not_split():
    text = "It opened on Sept. 14 in Oslo. It closed on Dec. 2."
    assert pieces(text, split_sentences(text)) == ["It opened on Sept. 14 in Oslo.", "It closed on Dec. 2."]


def test_emoji_zwj_sequences_and_crlf_keep_exact_offsets():
    family, flag, skin = "👩\u200d👩\u200d👧", "🇫🇷", "👍🏽"
    text = f"{family} Anna met Bob in Köln.\r\nZoë waved {flag}{skin}!\r\n\r\nThen Oslo. Ende"
    expected = [f"{family} Anna met Bob in Köln.", f"Zoë waved {flag}{skin}!", "Then Oslo.", "Ende"]
    assert pieces(text, split_sentences(text)) == expected
    assert pieces(text, chunk_text(text, 30)) == [expected[0], f"{expected[1]}\r\n\r\n{expected[2]}", "Ende"]
    assert pieces(text, chunk_text(text, 30, pack=False)) == expected
    # a lone CR is a line break too
    assert pieces("One\rTwo", split_sentences("One\rTwo")) == ["One", "Two"]


SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # a flag of tag characters


@pytest.mark.parametrize("glyph", ["👩\u200d👩\u200d👧", "🇫🇷", "👍🏽", "e\u0301", "❤\ufe0f", SCOTLAND])
def test_a_hard_cut_never_splits_a_glyph(glyph):
    text = glyph * 400  # no whitespace: the cut is hard
    for budget in (100, 101, 103):
        chunks = chunk_text(text, budget)
        assert_covers(text, chunks, budget)
        assert all(text[start:end] == glyph * ((end - start) // len(glyph)) for start, end in chunks)


def test_random_texts_are_covered_exactly_by_sentence_aligned_chunks():
    rng = random.Random(3)
    words = ["Anna", "Köln", "👩\u200d👩\u200d👧", "met", "the", "3.", "Mr.", "U.S.", "fog", "🇫🇷", "1:18.11",
             "(France)"]
    for _ in range(200):
        sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) + rng.choice([".", "!", "?", ""])
                     for _ in range(rng.randint(1, 12))]
        text = "".join(s + rng.choice([" ", "  ", "\n", "\r\n", "\r\n\r\n", " \t"]) for s in sentences)
        budget = max(100, *(end - start for start, end in split_sentences(text)))  # no sentence is cut
        chunks = chunk_text(text, budget)
        assert_covers(text, chunks, budget)
        assert_sentence_aligned(text, chunks, budget)
        assert len(chunks) <= len(chunk_text(text, budget, pack=False)) == len(split_sentences(text))


def test_a_kept_range_joins_the_sentences_it_crosses_and_is_never_cut():
    text = "Shares of Yahoo! Inc. fell. Nothing else moved."
    yahoo = (text.index("Yahoo!"), text.index("Inc.") + 4)
    assert pieces(text, chunk_text(text, 30, pack=False)) == ["Shares of Yahoo!", "Inc. fell.", "Nothing else moved."]
    assert pieces(text, chunk_text(text, 30, pack=False, whole=[yahoo])) == ["Shares of Yahoo! Inc. fell.",
                                                                            "Nothing else moved."]
    long_sentence = " ".join(["word"] * 30) + " Carole Montillet " + " ".join(["word"] * 30)
    name = (long_sentence.index("Carole"), long_sentence.index("Carole") + len("Carole Montillet"))
    for budget in range(100, 140):
        chunks = chunk_text(long_sentence, budget, whole=[name])
        assert any(start <= name[0] and name[1] <= end for start, end in chunks)
        assert max(end - start for start, end in chunks) <= budget
    hard = "x" * 150 + "Montillet" + "x" * 150
    kept = (150, 159)
    assert any(s <= 150 and 159 <= e for s, e in chunk_text(hard, 100, whole=[kept]))
