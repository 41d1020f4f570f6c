"""The type classifier the retype benchmark measures: what it proposes, what tau takes, and the
held-out check that decides whether a project would adopt it."""

from __future__ import annotations

from benchmarks.retype import TypeModel, held_out_gain, retyped, span_vector
from reversener.types import Sentence, Span

from .test_span_model import TRAIN, labeled, pieces


def test_a_span_is_described_by_its_pieces_and_their_neighbours():
    text = "The Dutch team beat the Italians in Rome ."
    features = pieces(text)
    width = features.vectors.shape[1]
    vector = span_vector(features, Span(text.index("Italians"), text.index("Italians") + 8, "MISC"))
    assert vector is not None and vector.shape == (3 * width,)
    assert span_vector(features, Span(0, 0, "MISC")) is None  # no piece inside


def test_a_region_the_llm_mistyped_is_proposed_its_learned_type_and_tau_decides():
    model = TypeModel().fit(TRAIN, [pieces(s.text) for s in TRAIN])
    text = "Dutch fans sang in Rome ."
    answer = Sentence(text, (Span(0, 5, "LOC", 0.9), Span(text.index("Rome"), text.index("Rome") + 4, "LOC", 0.9)))
    proposals = model.proposals(answer, pieces(text))
    assert [(k, label) for k, label, _ in proposals] == [(0, "MISC")]  # Rome is a LOC already
    assert retyped(answer, proposals, 0.0).spans[0] == Span(0, 5, "MISC", 0.9)
    assert retyped(answer, proposals, 1.01) == answer


def test_with_one_type_to_learn_from_nothing_is_proposed():
    only_places = [labeled("Fans travelled to Rome by train .", ("Rome", "LOC"))]
    model = TypeModel().fit(only_places, [pieces(s.text) for s in only_places])
    answer = only_places[0]
    assert model.proposals(Sentence(answer.text, (Span(18, 22, "PER"),)), pieces(answer.text)) == []


def test_retyping_is_judged_on_corrections_each_retyped_by_a_classifier_trained_without_it():
    features = [pieces(s.text) for s in TRAIN]
    mistyped = [Sentence(s.text, tuple(Span(x.start, x.end, "LOC" if x.label == "MISC" else x.label)
                                       for x in s.spans)) for s in TRAIN]
    gains = held_out_gain(TRAIN, mistyped, features, ([], []), [0.0, 1.01])
    assert gains[0.0] > 0 and gains[1.01] == 0.0
    assert held_out_gain(TRAIN, list(TRAIN), features, ([], []), [0.0])[0.0] <= 0  # nothing to fix


def test_the_report_shows_each_tau_always_and_adopted(tmp_path, monkeypatch):
    from benchmarks import report
    from benchmarks.common import machine, write_json

    monkeypatch.setattr(report, "RESULTS", tmp_path)
    assert "Not run yet: `.venv/bin/python -m benchmarks.retype`." in report.retype_section()
    gain = {"mean": -1.2, "low": -3.1, "high": 0.8}
    write_json(tmp_path / "retype.json", {"sample": 300, "draws": 20, "taus": [0.8], "machine": machine(), "sets": {
        "wikigold": {"50": {"0.8": {"always": gain, "adopted": gain | {"mean": -0.6}, "adopted_draws": 7}}}}})
    assert "| 50 | 0.8 | -1.2 (-3.1 to +0.8) | -0.6 (-3.1 to +0.8) | 7 |" in report.retype_section()
