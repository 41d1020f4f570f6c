"""Tests for reversener.parse: raw LLM answers to typed mentions."""

from __future__ import annotations

import json

import pytest

from reversener.errors import ParseError
from reversener.parse import MAX_MENTIONS, parse_mentions
from reversener.types import Mention

TYPES = ("PER", "LOC", "ORG", "MISC")
JOHN = Mention("John Smith", "PER")
PARIS = Mention("Paris", "LOC")


def test_plain_json_object():
    answer = '{"entities": [{"text": "John Smith", "type": "PER"}, {"text": "Paris", "type": "LOC"}]}'
    assert parse_mentions(answer, TYPES) == [JOHN, PARIS]


def test_code_fence():
    answer = '```json\n{"entities": [{"text": "John Smith", "type": "PER"}]}\n```'
    assert parse_mentions(answer, TYPES) == [JOHN]


def test_prose_before_and_after():
    answer = (
        "Sure! Here are the entities I found:\n"
        '{"entities": [{"text": "Paris", "type": "LOC"}]}\n'
        "Let me know if you need anything else."
    )
    assert parse_mentions(answer, TYPES) == [PARIS]


def test_prose_with_brackets_before_json():
    answer = 'Following the format [see above], here it is: [{"text": "Paris", "type": "LOC"}]'
    assert parse_mentions(answer, TYPES) == [PARIS]


def test_bare_list():
    answer = '[{"text": "John Smith", "type": "PER"}, {"text": "Paris", "type": "LOC"}]'
    assert parse_mentions(answer, TYPES) == [JOHN, PARIS]


@pytest.mark.parametrize("key", ["entities", "result", "entity", "named_entities"])
def test_list_under_any_key(key):
    answer = json.dumps({key: [{"text": "Paris", "type": "LOC"}]})
    assert parse_mentions(answer, TYPES) == [PARIS]


def test_type_to_list_mapping():
    answer = '{"PER": ["John Smith"], "LOC": ["Paris", "Rome"], "ORG": []}'
    assert parse_mentions(answer, TYPES) == [JOHN, PARIS, Mention("Rome", "LOC")]


def test_type_mapping_under_entities_key():
    answer = '{"entities": {"PER": ["John Smith"], "LOC": []}}'
    assert parse_mentions(answer, TYPES) == [JOHN]


@pytest.mark.parametrize(
    "item",
    [
        '{"entity": "Paris", "label": "LOC"}',
        '{"name": "Paris", "entity_type": "LOC"}',
        '{"word": "Paris", "category": "LOC"}',
        '{"word": "Paris", "entity": "B-LOC", "score": 0.99}',
    ],
)
def test_alternative_key_names(item):
    assert parse_mentions(f"[{item}]", TYPES) == [PARIS]


def test_single_quoted_python_dicts():
    answer = "[{'text': 'John Smith', 'type': 'PER'}, {'text': \"O'Neil\", 'type': 'PER'}]"
    assert parse_mentions(answer, TYPES) == [JOHN, Mention("O'Neil", "PER")]


def test_trailing_commas():
    answer = (
        '{"entities": [{"text": "John Smith", "type": "PER",}, '
        '{"text": "Paris", "type": "LOC"},],}'
    )
    assert parse_mentions(answer, TYPES) == [JOHN, PARIS]


def test_truncated_answer_salvages_complete_objects():
    answer = (
        '```json\n{"entities": [{"text": "John Smith", "type": "PER"}, '
        '{"text": "Paris", "type": "LOC"}, {"text": "Acme Co'
    )
    assert parse_mentions(answer, TYPES) == [JOHN, PARIS]


def test_truncated_type_mapping_salvages_complete_lists():
    answer = '{"PER": ["John Smith"], "LOC": ["Par'
    assert parse_mentions(answer, TYPES) == [JOHN]


def test_unknown_types_dropped():
    answer = '[{"text": "Monday", "type": "DATE"}, {"text": "Paris", "type": "LOC"}]'
    assert parse_mentions(answer, TYPES) == [PARIS]


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("PERSON", "PER"),
        ("person", "PER"),
        ("LOCATION", "LOC"),
        ("ORGANIZATION", "ORG"),
        ("Organisation", "ORG"),
        ("MISCELLANEOUS", "MISC"),
    ],
)
def test_type_aliases(alias, canonical):
    answer = json.dumps([{"text": "X", "type": alias}])
    assert parse_mentions(answer, TYPES) == [Mention("X", canonical)]


def test_alias_only_when_unambiguous():
    answer = json.dumps([{"text": "X", "type": "people"}])
    assert parse_mentions(answer, ("PER", "PERSON")) == []
    assert parse_mentions(json.dumps([{"text": "X", "type": "person"}]), ("PER", "PERSON")) == [
        Mention("X", "PERSON")
    ]


def test_alias_resolves_long_allowed_type_from_short_answer():
    answer = json.dumps([{"text": "X", "type": "PER"}])
    assert parse_mentions(answer, ("PERSON", "LOCATION")) == [Mention("X", "PERSON")]


def test_types_case_insensitive_canonical_spelling():
    answer = '[{"text": "Paris", "type": "loc"}, {"text": "Acme", "type": "Company"}]'
    assert parse_mentions(answer, ("LOC", "company")) == [PARIS, Mention("Acme", "company")]


def test_text_stripped_and_empty_or_non_string_dropped():
    answer = json.dumps(
        [
            {"text": '  "Paris" ', "type": "LOC"},
            {"text": "'John Smith'", "type": "PER"},
            {"text": "   ", "type": "LOC"},
            {"text": 42, "type": "LOC"},
            {"text": ["Rome"], "type": "LOC"},
            {"text": None, "type": "LOC"},
        ]
    )
    assert parse_mentions(answer, TYPES) == [PARIS, JOHN]


def test_unpaired_apostrophe_kept():
    answer = json.dumps([{"text": "'s-Hertogenbosch", "type": "LOC"}])
    assert parse_mentions(answer, TYPES) == [Mention("'s-Hertogenbosch", "LOC")]


def test_duplicates_kept_once_in_order():
    answer = json.dumps(
        [
            {"text": "Paris", "type": "LOC"},
            {"text": "John Smith", "type": "PER"},
            {"text": "Paris", "type": "LOC"},
            {"text": "Paris", "type": "ORG"},
        ]
    )
    assert parse_mentions(answer, TYPES) == [PARIS, JOHN, Mention("Paris", "ORG")]


def test_thousand_repeats_collapse_to_one():
    answer = json.dumps({"entities": [{"text": "Paris", "type": "LOC"}] * 1000})
    assert parse_mentions(answer, TYPES) == [PARIS]


def test_thousand_distinct_mentions_capped():
    answer = json.dumps({"entities": [{"text": f"Person {i}", "type": "PER"} for i in range(1000)]})
    mentions = parse_mentions(answer, TYPES)
    assert len(mentions) == MAX_MENTIONS == 200
    assert mentions[0] == Mention("Person 0", "PER")
    assert mentions[-1] == Mention("Person 199", "PER")


def test_truncated_looping_answer_capped():
    items = ", ".join(f'{{"text": "Person {i}", "type": "PER"}}' for i in range(1000))
    answer = '{"entities": [' + items + ', {"text": "Pers'
    assert len(parse_mentions(answer, TYPES)) == MAX_MENTIONS


def test_non_json_raises_with_quoted_answer():
    answer = "I am sorry, but I cannot identify anything useful here. " * 10
    with pytest.raises(ParseError) as info:
        parse_mentions(answer, TYPES)
    assert answer[:200] in str(info.value)
    assert answer[:201] not in str(info.value)


def test_cut_off_before_any_complete_object_raises():
    with pytest.raises(ParseError):
        parse_mentions('{"entities": [{"text": "Jo', TYPES)


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "   \n",
        "[]",
        "{}",
        '{"entities": []}',
        "```json\n[]\n```",
        "None",
        "none.",
        "null",
        "no entities",
        "No entities found.",
        "There are no named entities in this text.",
    ],
)
def test_explicit_empties(answer):
    assert parse_mentions(answer, TYPES) == []


def test_valid_json_without_entities_is_empty_not_error():
    assert parse_mentions('{"answer": "nothing to report"}', TYPES) == []


def test_echoed_input_text_beside_entities():
    entities = [{"text": "Paris", "type": "LOC"}]
    answer = json.dumps({"text": "John Smith went to Paris.", "entities": entities})
    assert parse_mentions(answer, TYPES) == [PARIS]


def test_text_type_pairs():
    assert parse_mentions('[["Paris", "LOC"], ["John Smith", "PER"]]', TYPES) == [PARIS, JOHN]
