"""The calibration the benchmark measures: a project's region scores mapped to the share annotators kept."""

from __future__ import annotations

import numpy as np

from benchmarks.calibrate import Calibration, brier
from reversener.thresholds import Scored
from reversener.types import Span


def overconfident(n: int, seed: int = 0) -> list[Scored]:
    """Corrections of an LLM that scores its regions 0.95 or 0.6, of which annotators keep half and a
    tenth: sure of far more than it gets right."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n):
        regions = [("LOC", 0.95, bool(rng.random() < 0.5)), ("PER", 0.6, bool(rng.random() < 0.1)),
                   ("PER", None, True)]
        records.append(Scored(tuple(regions), {"LOC": 1, "PER": 1}))
    return records


def test_overconfident_scores_are_mapped_to_the_share_annotators_kept_and_order_is_kept():
    learned = Calibration.learn(overconfident(60), minimum=25)
    assert learned
    assert abs(learned.score(0.95) - 0.5) < 0.15 and learned.score(0.6) < 0.25
    assert learned.score(0.6) <= learned.score(0.8) <= learned.score(0.95)  # monotone
    spans = [Span(0, 4, "LOC", 0.95), Span(5, 9, "PER", None)]
    assert [s.score for s in learned.apply(spans)] == [learned.score(0.95), None]
    held_out = [(score, kept) for r in overconfident(60, seed=1) for _, score, kept in r.regions if score is not None]
    scores, kept = np.array(held_out).T
    assert brier(np.array([learned.score(x) for x in scores]), kept) < brier(scores, kept)
    assert learned.digest() == Calibration.learn(overconfident(60), minimum=25).digest()


def test_nothing_is_adopted_before_enough_corrections_or_where_scores_already_say_what_annotators_keep():
    assert not Calibration.learn(overconfident(20), minimum=25)
    assert not Calibration.learn([Scored((("PER", None, True),), {"PER": 1})] * 30, minimum=25)  # no score
    rng = np.random.default_rng(0)
    honest = [Scored(tuple((label, s, bool(rng.random() < s)) for label, s in (("LOC", 0.95), ("PER", 0.3))),
                     {"LOC": 1}) for _ in range(40)]
    assert not Calibration.learn(honest, minimum=25)
    unchanged = [Span(0, 4, "LOC", 0.7)]
    assert Calibration().apply(unchanged) == unchanged and Calibration().score(0.7) == 0.7
