"""Tests for reversener.labelstudio: spans to Label Studio `labels` results and back."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from reversener.labelstudio import prediction, spans_from_results, to_results
from reversener.types import Span

TEXT = "Anna Berg lives in Rome."
ANNA = Span(0, 9, "PER", score=0.75)
ROME = Span(19, 23, "LOC", score=0.5)
TYPES = ("PER", "LOC", "ORG")


def region(start, end, labels) -> dict:
    """A region as Label Studio stores an annotation."""
    text = TEXT[start:end] if isinstance(start, int) and isinstance(end, int) else ""
    return {"from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": labels}}


def test_to_results_shape():
    results = to_results(TEXT, [ANNA])
    assert results == [
        {
            "id": hashlib.sha1(b"0:9:PER").hexdigest()[:10],
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {"start": 0, "end": 9, "text": "Anna Berg", "labels": ["PER"]},
            "score": 0.75,
        }
    ]
    json.dumps(results)  # plain JSON, as the ML backend sends it


def test_to_results_custom_control_names_and_rounded_score():
    (result,) = to_results(TEXT, [Span(19, 23, "LOC", score=2 / 3)], from_name="ner", to_name="doc")
    assert (result["from_name"], result["to_name"]) == ("ner", "doc")
    assert result["score"] == 0.6667
    assert result["value"]["text"] == "Rome"


def test_ids_are_stable_and_distinct():
    first = [r["id"] for r in to_results(TEXT, [ANNA, ROME])]
    again = [r["id"] for r in to_results(TEXT, [Span(0, 9, "PER", 0.1), Span(19, 23, "LOC", 0.9)])]
    assert first == again  # the score does not change the id
    assert len(set(first)) == 2
    relabeled = to_results(TEXT, [Span(0, 9, "ORG")])[0]["id"]
    assert relabeled not in first


def test_prediction_score_is_the_answers_confidence_else_its_weakest_region():
    result = prediction(to_results(TEXT, [ANNA, ROME]), model_version="reversener-abc123")
    assert set(result) == {"result", "score", "model_version"}
    assert result["result"] == to_results(TEXT, [ANNA, ROME])
    assert result["score"] == 0.5  # sorted ascending, the task with the least sure region comes first
    assert result["model_version"] == "reversener-abc123"
    assert prediction(to_results(TEXT, [ANNA, ROME]), "v1", score=0.25)["score"] == 0.25


def test_without_a_confidence_nothing_claims_one():
    unscored = to_results(TEXT, [Span(0, 9, "PER")])
    assert "score" not in unscored[0]
    assert prediction(unscored, "v1") == {"result": unscored, "model_version": "v1"}
    assert prediction([], "v1") == {"result": [], "model_version": "v1"}
    assert prediction([], "v1", score=0.9) == {"result": [], "score": 0.9, "model_version": "v1"}


def test_prediction_keeps_the_regions_of_several_controls():
    regions = to_results(TEXT, [ANNA], "ner", "doc") + to_results(TEXT, [ROME], "place", "doc")
    result = prediction(regions, "v1")
    assert [(r["from_name"], r["to_name"]) for r in result["result"]] == [("ner", "doc"), ("place", "doc")]


def test_round_trip():
    results = prediction(to_results(TEXT, [ANNA, ROME]), "v1")["result"]
    assert spans_from_results(TEXT, results, TYPES) == [ANNA, ROME]
    assert all(s.score is None for s in spans_from_results(TEXT, results, TYPES))  # human labels carry none


def test_spans_from_results_reads_annotations():
    results = [region(19, 23, ["LOC"]), region(0, 9, ["PER"])]
    assert spans_from_results(TEXT, results, TYPES) == [Span(0, 9, "PER"), Span(19, 23, "LOC")]


@pytest.mark.parametrize(
    "bad",
    [
        region(-1, 4, ["PER"]),
        region(0, 99, ["PER"]),
        region(5, 5, ["PER"]),
        region(9, 0, ["PER"]),
        region("0", "9", ["PER"]),
        region(0.0, 9.0, ["PER"]),
        region(None, None, ["PER"]),
    ],
)
def test_spans_from_results_skips_bad_offsets(bad):
    assert spans_from_results(TEXT, [bad, region(19, 23, ["LOC"])], TYPES) == [Span(19, 23, "LOC")]


@pytest.mark.parametrize(
    "bad",
    [
        "not a dict",
        None,
        {"type": "labels"},
        {"value": "Rome"},
        {"value": {"start": 0, "end": 9}},
        {"value": {"start": 0, "end": 9, "labels": "PER"}},
        {"type": "choices", "value": {"choices": ["positive"]}},
        {"type": "relation", "from_id": "a", "to_id": "b"},
    ],
)
def test_spans_from_results_skips_wrong_shapes(bad):
    assert spans_from_results(TEXT, [bad, region(19, 23, ["LOC"])], TYPES) == [Span(19, 23, "LOC")]


def test_spans_from_results_skips_unknown_labels_keeps_known_ones():
    results = [region(0, 9, ["Person"]), region(19, 23, ["CITY", "LOC"])]
    assert spans_from_results(TEXT, results, TYPES) == [Span(19, 23, "LOC")]


def test_spans_from_results_deduplicates_and_keeps_multiple_labels():
    results = [region(0, 9, ["PER"]), region(0, 9, ["PER"]), region(0, 9, ["ORG", "PER"])]
    assert spans_from_results(TEXT, results, TYPES) == [Span(0, 9, "ORG"), Span(0, 9, "PER")]


def test_spans_from_results_of_nothing():
    assert spans_from_results(TEXT, [], TYPES) == []


def test_a_region_whose_text_differs_from_the_task_keeps_its_offsets_and_says_so(caplog):
    text = "New  York is big"  # two spaces: Label Studio's region text shows one
    region = {"value": {"start": 0, "end": 9, "text": "New York", "labels": ["LOC"]}}
    with caplog.at_level(logging.INFO, logger="reversener.labelstudio"):
        spans = spans_from_results(text, [region], {"LOC"})
    assert [(text[s.start:s.end], s.label) for s in spans] == [("New  York", "LOC")]
    assert "offsets trusted" in caplog.text and "New" not in caplog.text
