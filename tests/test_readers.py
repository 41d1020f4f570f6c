"""Tests for reversener.readers: CoNLL (IOB1/IOB2, tab/space, DOCSTART) and task inputs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from reversener.errors import ReaderError
from reversener.readers import read_conll, read_conll_documents, read_tasks
from reversener.types import Sentence, Span

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WIKIGOLD = SHARED / "wikigold" / "wikigold.conll.txt"
WNUT17 = SHARED / "wnut17" / "emerging.dev.conll"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")

EXPECTED_SMALL = [
    Sentence(
        "John Smith Mary visited New York .",
        (Span(0, 10, "PER"), Span(11, 15, "PER"), Span(24, 32, "LOC")),
    ),
    Sentence("IBM hired Ann", (Span(0, 3, "ORG"), Span(10, 13, "PER"))),
]


def spans_of(sentence: Sentence) -> list[tuple[int, int, str, str]]:
    return [(s.start, s.end, s.label, sentence.text[s.start : s.end]) for s in sentence.spans]


def label_counts(sentences: list[Sentence]) -> Counter:
    return Counter(span.label for sentence in sentences for span in sentence.spans)


# ---------------------------------------------------------------------------- CoNLL fixtures


def test_iob1_tab_with_docstart():
    assert read_conll(DATA / "iob1_tab.conll") == EXPECTED_SMALL


def test_iob2_space_gives_same_spans_as_iob1_tab():
    assert read_conll(DATA / "iob2_space.conll") == read_conll(DATA / "iob1_tab.conll")


def test_accepts_str_path():
    assert read_conll(str(DATA / "iob2_space.conll")) == EXPECTED_SMALL


def test_token_first_tag_last_with_extra_columns():
    [sentence] = read_conll(DATA / "multi_column.conll")
    assert sentence == Sentence("Paris is nice", (Span(0, 5, "LOC"),))


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["I-X", "I-X", "O"], [(0, 3, "X")]),  # IOB1 entity at sentence start
        (["O", "I-X", "I-Y", "I-Y"], [(2, 3, "X"), (4, 7, "Y")]),  # I- after another type
        (["I-X", "B-X", "I-X"], [(0, 1, "X"), (2, 5, "X")]),  # IOB1 B- splits adjacent
        (["B-X", "B-X"], [(0, 1, "X"), (2, 3, "X")]),  # IOB2 adjacent single tokens
        (["B-X", "O", "I-X"], [(0, 1, "X"), (4, 5, "X")]),  # stray I- after O
        (["O", "O", "O"], []),
    ],
)
def test_tag_sequences(tmp_path, tags, expected):
    tokens = ["a", "b", "c", "d"][: len(tags)]
    path = tmp_path / "x.conll"
    path.write_text("".join(f"{t} {tag}\n" for t, tag in zip(tokens, tags, strict=True)), encoding="utf-8")
    [sentence] = read_conll(path)
    assert [(s.start, s.end, s.label) for s in sentence.spans] == expected


def test_multi_word_type_names_and_crlf_and_bom(tmp_path):
    path = tmp_path / "x.conll"
    path.write_bytes("\ufeffRick\tB-creative-work\r\nMorty\tI-creative-work\r\n\r\n".encode())
    assert read_conll(path) == [Sentence("Rick Morty", (Span(0, 10, "creative-work"),))]


def test_docstart_and_blank_lines_never_give_empty_sentences(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("\n\n-DOCSTART- -X- O O\n\n\nA O\n-DOCSTART- O\nB O\n\n\n", encoding="utf-8")
    assert read_conll(path) == [Sentence("A"), Sentence("B")]


def test_documents_are_split_at_docstart_and_none_is_empty(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("\n-DOCSTART- O\n\nA O\n\nB B-PER\n\n-DOCSTART- O\n\n-DOCSTART- O\nC O\n-DOCSTART- O\n", "utf-8")
    assert read_conll_documents(path) == [[Sentence("A"), Sentence("B", (Span(0, 1, "PER"),))], [Sentence("C")]]
    no_docstart = tmp_path / "y.conll"
    no_docstart.write_text("A O\n\nB O\n", "utf-8")
    assert read_conll_documents(no_docstart) == [[Sentence("A"), Sentence("B")]]


def test_empty_file(tmp_path):
    path = tmp_path / "empty.conll"
    path.write_text("", encoding="utf-8")
    assert read_conll(path) == []


def test_missing_tag_names_file_and_line():
    path = DATA / "missing_tag.conll"
    with pytest.raises(ReaderError, match=r"missing_tag\.conll:2: expected a token and a tag"):
        read_conll(path)


def test_bad_tag_names_file_line_and_tag():
    with pytest.raises(ReaderError, match=r"bad_tag\.conll:2: tag 'E-PER' is not 'O'"):
        read_conll(DATA / "bad_tag.conll")


@pytest.mark.parametrize("tag", ["B-", "I", "o", "PER"])
def test_other_bad_tags(tmp_path, tag):
    path = tmp_path / "x.conll"
    path.write_text(f"A O\nB {tag}\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"x\.conll:2: tag"):
        read_conll(path)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes("Zürich I-LOC\n".encode("latin-1"))
    with pytest.raises(ReaderError, match=r"latin1\.conll: not valid UTF-8"):
        read_conll(path)


# ---------------------------------------------------------------------------- shared data sets
# Counts computed independently with awk (entity starts at B-X, or at I-X whose previous tag
# is not of type X; sentences = non-empty blocks without -DOCSTART-).


@needs_shared
def test_wikigold_counts():
    sentences = read_conll(WIKIGOLD)
    # The file has 1,841 blank-line-separated blocks, 145 of which are only a -DOCSTART- line;
    # skipping those leaves 1,696 real sentences (the README's 1,841 counts the DOCSTART blocks).
    assert len(sentences) == 1841 - 145 == 1696
    assert label_counts(sentences) == {"LOC": 1014, "PER": 934, "ORG": 898, "MISC": 712}
    assert sum(len(s.text.split(" ")) for s in sentences) == 39007  # tokens, DOCSTART excluded
    assert all(s.text for s in sentences)
    documents = read_conll_documents(WIKIGOLD)
    assert len(documents) == 145 and [s for d in documents for s in d] == sentences


@needs_shared
def test_wikigold_concrete_sentences():
    sentences = read_conll(WIKIGOLD)
    first = sentences[0]
    assert first.text == (
        "010 is the tenth album from Japanese Punk Techno band The Mad Capsule Markets ."
    )
    assert spans_of(first) == [
        (0, 3, "MISC", "010"),
        (28, 36, "MISC", "Japanese"),
        (54, 77, "ORG", "The Mad Capsule Markets"),
    ]
    assert spans_of(sentences[1])[1] == (113, 129, "MISC", "Introduction 010")
    last = sentences[-1]
    assert last.text == "Oleg Mikhaylovich Gazmanov is a Russian singer ."
    assert spans_of(last) == [
        (0, 26, "PER", "Oleg Mikhaylovich Gazmanov"),
        (32, 39, "MISC", "Russian"),
    ]


@needs_shared
def test_wnut17_counts():
    sentences = read_conll(WNUT17)
    assert len(sentences) == 1009
    assert label_counts(sentences) == {
        "person": 470,
        "product": 114,
        "creative-work": 105,
        "location": 74,
        "group": 39,
        "corporation": 34,
    }


@needs_shared
def test_wnut17_concrete_sentences():
    sentences = read_conll(WNUT17)
    assert sentences[0] == Sentence("Stabilized approach or not ? That ´ s insane and good .")
    assert spans_of(sentences[1]) == [
        (26, 44, "location", "Redondo Beach Blvd"),
        (78, 85, "location", "Gardena"),
        (88, 95, "location", "Compton"),
    ]
    assert sentences[2].text.startswith("All I ' ve been doing is BINGE watching Rick and Morty")
    assert spans_of(sentences[2]) == [(40, 54, "creative-work", "Rick and Morty")]
    # IOB2: two adjacent B-person tokens are two entities.
    assert spans_of(sentences[188]) == [(8, 12, "person", "Diah"), (13, 17, "person", "Diah")]
    assert spans_of(sentences[-1]) == [(31, 48, "corporation", "Discivery Channel")]


# ---------------------------------------------------------------------------- task inputs


def test_read_tasks_json_keeps_other_keys():
    assert read_tasks(DATA / "tasks.json") == [
        {"id": 7, "data": {"text": "Ann lives in Paris.", "source": "news"}, "meta": {"batch": 1}},
        {"data": {"text": "IBM hired Bob."}},
    ]


def test_read_tasks_json_single_task_and_strings(tmp_path):
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"id": 3, "data": {"text": "Hi Ann"}}), encoding="utf-8")
    assert read_tasks(single) == [{"id": 3, "data": {"text": "Hi Ann"}}]
    strings = tmp_path / "strings.json"
    strings.write_text(json.dumps(["Hi Ann", "Bye Bob"]), encoding="utf-8")
    assert read_tasks(strings) == [{"data": {"text": "Hi Ann"}}, {"data": {"text": "Bye Bob"}}]


def test_read_tasks_jsonl():
    assert read_tasks(DATA / "tasks.jsonl") == [
        {"id": 1, "data": {"text": "Ann lives in Paris."}, "meta": {"batch": 2}},
        {"data": {"text": "IBM hired Bob.", "source": "web"}},
    ]


def test_read_tasks_txt_skips_blank_lines():
    assert read_tasks(DATA / "tasks.txt") == [
        {"data": {"text": "Ann lives in Paris."}},
        {"data": {"text": "IBM hired Bob."}},
    ]


def test_read_tasks_other_extension_is_plain_text(tmp_path):
    path = tmp_path / "texts.md"
    path.write_text("one\r\ntwo\n", encoding="utf-8")
    assert read_tasks(path) == [{"data": {"text": "one"}}, {"data": {"text": "two"}}]


def test_read_tasks_text_key(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"data": {"body": "Hi Ann"}}\n{"body": "Bye"}\n', encoding="utf-8")
    assert read_tasks(path, text_key="body") == [
        {"data": {"body": "Hi Ann"}},
        {"data": {"body": "Bye"}},
    ]
    txt = tmp_path / "t.txt"
    txt.write_text("Hi\n", encoding="utf-8")
    assert read_tasks(txt, text_key="body") == [{"data": {"body": "Hi"}}]
    with pytest.raises(ReaderError, match=r"task index 0: data\.body is missing"):
        read_tasks(DATA / "tasks.json", text_key="body")


def test_invalid_json_names_file_and_line():
    with pytest.raises(ReaderError, match=r"bad\.json:4: invalid JSON .*fix the syntax"):
        read_tasks(DATA / "bad.json")


def test_invalid_jsonl_names_file_and_line():
    with pytest.raises(ReaderError, match=r"bad\.jsonl:2: invalid JSON .*one complete JSON object"):
        read_tasks(DATA / "bad.jsonl")


@pytest.mark.parametrize(
    "content, message",
    [
        ('[{"data": {"text": "ok"}}, {"data": {"txt": "x"}}]', r"task index 1: data\.text"),
        ('[{"data": {"text": 5}}]', r"task index 0: data\.text is missing or not a string"),
        ('[{"data": "just a string"}]', r"task index 0: data\.text"),
        ('[{"id": 1}]', r"task index 0: data\.text"),
        ("[1, 2]", r"task index 0: expected a task object or a string, got int"),
        ("42", r"task index 0: expected a task object"),
    ],
)
def test_json_task_errors(tmp_path, content, message):
    path = tmp_path / "tasks.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReaderError, match=r"tasks\.json: " + message):
        read_tasks(path)


def test_jsonl_task_error_names_line_and_index(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"text": "ok"}\n\n{"data": {"title": "x"}}\n', encoding="utf-8")
    with pytest.raises(ReaderError, match=r"tasks\.jsonl:3: task index 1: data\.text is missing"):
        read_tasks(path)
