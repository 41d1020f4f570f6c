"""Tests for reversener.metrics: strict span-level scores on hand-computed examples."""

from __future__ import annotations

import pytest

from reversener.metrics import Report, Scores, bootstrap_f1, bootstrap_f1_gain, evaluate, sentence_counts
from reversener.types import Sentence, Span

TEXT = "Ann met Bob in Paris"  # Ann 0-3, Bob 8-11, Paris 15-20
ANN, BOB, PARIS = Span(0, 3, "PER"), Span(8, 11, "PER"), Span(15, 20, "LOC")
GOLD = [Sentence(TEXT, (ANN, BOB, PARIS))]


def pred(*spans: Span, text: str = TEXT) -> list[Sentence]:
    return [Sentence(text, spans)]


def counts(scores: Scores) -> tuple[int, int, int]:
    return (scores.tp, scores.fp, scores.fn)


def test_scores_rates():
    s = Scores(tp=2, fp=1, fn=3)
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 5)
    assert s.f1 == pytest.approx(2 * (2 / 3) * (2 / 5) / (2 / 3 + 2 / 5))


def test_scores_undefined_rates_are_zero():
    assert (Scores().precision, Scores().recall, Scores().f1) == (0.0, 0.0, 0.0)
    assert Scores(fp=2).f1 == 0.0 and Scores(fn=2).f1 == 0.0


def test_perfect():
    report = evaluate(GOLD, pred(ANN, BOB, PARIS))
    assert counts(report.micro) == (3, 0, 0)
    assert report.micro.f1 == 1.0
    assert counts(report.per_type["PER"]) == (2, 0, 0)
    assert counts(report.per_type["LOC"]) == (1, 0, 0)


def test_all_wrong_offsets():
    report = evaluate(GOLD, pred(Span(0, 7, "PER"), Span(15, 19, "LOC")))
    assert counts(report.micro) == (0, 2, 3)
    assert (report.micro.precision, report.micro.recall, report.micro.f1) == (0.0, 0.0, 0.0)


def test_partial():
    # Ann right, Bob missed, Paris boundary wrong (counts as fp + fn), extra "met" span.
    report = evaluate(GOLD, pred(ANN, Span(15, 19, "LOC"), Span(4, 7, "MISC")))
    assert counts(report.micro) == (1, 2, 2)
    assert report.micro.precision == pytest.approx(1 / 3)
    assert report.micro.recall == pytest.approx(1 / 3)
    assert report.micro.f1 == pytest.approx(1 / 3)


def test_wrong_label_same_offsets_is_fp_and_fn():
    report = evaluate(GOLD, pred(ANN, BOB, Span(15, 20, "ORG")))
    assert counts(report.micro) == (2, 1, 1)
    assert counts(report.per_type["LOC"]) == (0, 0, 1)
    assert counts(report.per_type["ORG"]) == (0, 1, 0)
    assert counts(report.per_type["PER"]) == (2, 0, 0)


def test_per_type_split_and_sorted_types_from_both_sides():
    gold = GOLD + [Sentence("IBM in Rome", (Span(0, 3, "ORG"), Span(7, 11, "LOC")))]
    rome = Sentence("IBM in Rome", (Span(0, 3, "ORG"), Span(7, 11, "GPE")))
    predicted = pred(ANN, PARIS) + [rome]
    report = evaluate(gold, predicted)
    assert list(report.per_type) == ["GPE", "LOC", "ORG", "PER"]
    assert counts(report.per_type["GPE"]) == (0, 1, 0)
    assert counts(report.per_type["LOC"]) == (1, 0, 1)
    assert counts(report.per_type["ORG"]) == (1, 0, 0)
    assert counts(report.per_type["PER"]) == (1, 0, 1)
    assert counts(report.micro) == (3, 1, 2)
    assert report.per_type["PER"].recall == 0.5
    assert report.micro.f1 == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))


def test_empty_gold_and_empty_prediction():
    empty = evaluate([Sentence(TEXT)], pred())
    assert counts(empty.micro) == (0, 0, 0) and empty.per_type == {}
    assert empty.micro.f1 == 0.0
    no_gold = evaluate([Sentence(TEXT)], pred(ANN))
    assert counts(no_gold.micro) == (0, 1, 0) and no_gold.micro.precision == 0.0
    no_pred = evaluate(GOLD, pred())
    assert counts(no_pred.micro) == (0, 0, 3) and no_pred.micro.recall == 0.0
    assert evaluate([], []) == Report(Scores(), {})


def test_duplicate_predicted_spans_count_once():
    again = Span(0, 3, "PER", score=0.2)  # same key, other score
    report = evaluate(GOLD, pred(ANN, ANN, again, Span(4, 7, "X"), Span(4, 7, "X")))
    assert counts(report.micro) == (1, 1, 2)


def test_score_is_ignored_in_matching():
    report = evaluate(GOLD, pred(Span(0, 3, "PER", score=0.1)))
    assert counts(report.micro) == (1, 0, 2)


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="gold has 1 sentences but predicted has 2"):
        evaluate(GOLD, pred() + pred())
    with pytest.raises(ValueError, match="gold has 1 sentences but predicted has 0"):
        bootstrap_f1(GOLD, [])


def test_text_mismatch_raises():
    with pytest.raises(ValueError, match="sentence 0: predicted text differs"):
        evaluate(GOLD, pred(ANN, text="Ann met Bob in Rome"))


def _dataset() -> tuple[list[Sentence], list[Sentence]]:
    """30 sentences: 20 fully right, 5 with one of two spans missed, 5 with a spurious span."""
    gold, predicted = [], []
    for i in range(30):
        text = f"Ann and Bob number {i:02d}"
        spans = (Span(0, 3, "PER"), Span(8, 11, "PER"))
        gold.append(Sentence(text, spans))
        if i < 20:
            predicted.append(Sentence(text, spans))
        elif i < 25:
            predicted.append(Sentence(text, spans[:1]))
        else:
            predicted.append(Sentence(text, spans + (Span(19, 21, "NUM"),)))
    return gold, predicted


def test_bootstrap_contains_point_estimate_and_is_deterministic():
    gold, predicted = _dataset()
    point = evaluate(gold, predicted).micro.f1
    assert point == pytest.approx(2 * 55 / (2 * 55 + 5 + 5))
    low, high = bootstrap_f1(gold, predicted, n=500, seed=3)
    assert 0.0 <= low <= point <= high <= 1.0
    assert low < high
    assert bootstrap_f1(gold, predicted, n=500, seed=3) == (low, high)
    assert bootstrap_f1(gold, predicted, n=500, seed=4) != (low, high)


def test_bootstrap_degenerate_cases():
    gold, _ = _dataset()
    assert bootstrap_f1(gold, gold, n=50) == (1.0, 1.0)
    assert bootstrap_f1([], []) == (0.0, 0.0)
    with pytest.raises(ValueError, match="n must be at least 1"):
        bootstrap_f1(gold, gold, n=0)


def test_paired_gain_interval_excludes_zero_where_the_two_runs_intervals_overlap():
    gold, predicted = _dataset()
    better = list(predicted)
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if p.spans != g.spans and i % 2 == 0:
            better[i] = g  # the second run fixes half of the first run's mistakes, breaks nothing
    before, after = sentence_counts(gold, predicted), sentence_counts(gold, better)
    gain = evaluate(gold, better).micro.f1 - evaluate(gold, predicted).micro.f1
    low, high = bootstrap_f1_gain(before, after, n=500)
    assert 0.0 < low <= gain <= high  # every sentence is as good or better, and some are better
    (_, a_high), (b_low, _) = bootstrap_f1(gold, predicted, n=500), bootstrap_f1(gold, better, n=500)
    assert b_low < a_high  # the separate intervals overlap, yet no paired resample shows a loss
    assert bootstrap_f1_gain(before, before, n=50) == (0.0, 0.0)
    assert bootstrap_f1_gain([], [], n=50) == (0.0, 0.0)
    with pytest.raises(ValueError, match="same sentences"):
        bootstrap_f1_gain(before, after[:-1])


def test_calibration_ranks_thresholds_and_bins_scored_spans():
    from reversener.metrics import calibration

    gold = [Sentence("Ada met Bob in Rome", (Span(0, 3, "PER"), Span(8, 11, "PER"), Span(15, 19, "LOC")))]
    predicted = [Sentence("Ada met Bob in Rome", (Span(0, 3, "PER", 0.9), Span(4, 7, "PER", 0.3),
                                                   Span(8, 11, "PER", 0.6), Span(15, 19, "ORG", 0.8)))]
    report = calibration(gold, predicted, thresholds=[0.0, 0.5, 0.85])
    # Correct: 0.9 and 0.6; wrong: 0.3 and 0.8. Of the four correct-wrong pairs, three are ordered.
    assert report["spans"] == 4 and report["auroc"] == pytest.approx(0.75)
    assert [(t["kept"], round(t["precision"], 2), round(t["recall"], 2)) for t in report["by_threshold"]] == [
        (4, 0.5, 0.67), (3, 0.67, 0.67), (1, 1.0, 0.33)]
    assert [(b["count"], b["correct"]) for b in report["reliability"]] == [(1, 0.0), (1, 1.0), (1, 0.0), (1, 1.0)]


def test_per_type_sentence_counts_only_count_that_type():
    from reversener.metrics import sentence_counts

    gold = [Sentence("Ada in Rome", (Span(0, 3, "PER"), Span(7, 11, "LOC")))]
    predicted = [Sentence("Ada in Rome", (Span(0, 3, "PER"), Span(7, 11, "ORG")))]
    assert sentence_counts(gold, predicted, "LOC") == [(0, 0, 1)]
    assert sentence_counts(gold, predicted, "ORG") == [(0, 1, 0)]
    assert sentence_counts(gold, predicted) == [(1, 1, 1)]
