"""The per-project threshold benchmark: counts per threshold, and thresholds chosen on corrections."""

from __future__ import annotations

import numpy as np

from benchmarks.threshold import GRID, chosen_counts, counts_table
from reversener.types import Sentence, Span


def _data(n: int) -> tuple[list[Sentence], list[Sentence]]:
    """Every sentence: one right PER region scored 0.8 and one wrong LOC region scored 0.3."""
    gold = [Sentence("Ann met Bob", (Span(0, 3, "PER"),)) for _ in range(n)]
    predicted = [Sentence("Ann met Bob", (Span(0, 3, "PER", 0.8), Span(8, 11, "LOC", 0.3))) for _ in range(n)]
    return gold, predicted


def test_counts_drop_the_regions_scored_below_each_threshold():
    gold, predicted = _data(2)
    table = counts_table(gold, predicted, ["LOC", "PER"])
    assert table.shape == (2, 2, len(GRID), 3)
    at = GRID.index
    assert table[0, :, at(0.3)].sum(0).tolist() == [0, 2, 0]  # the wrong LOC region kept
    assert table[0, :, at(0.35)].sum(0).tolist() == [0, 0, 0]  # and dropped above its score
    assert table[1, :, at(0.85)].sum(0).tolist() == [0, 0, 2]  # the right PER region lost


def test_a_threshold_learned_on_corrections_drops_what_they_show_wrong():
    gold, predicted = _data(30)
    table = counts_table(gold, predicted, ["LOC", "PER"])
    learn, apply = table[:, :20], table[:, 20:]
    rng = np.random.default_rng(0)
    assert chosen_counts(learn, apply, per_type=False, gated=False, rng=rng).tolist() == [10, 0, 0]
    assert chosen_counts(learn, apply, per_type=True, gated=True, rng=rng).tolist() == [10, 0, 0]
    # Where the corrections show nothing to gain, the gated choice keeps MIN_SCORE.
    right = counts_table(gold, [Sentence(g.text, (Span(0, 3, "PER", 0.3),)) for g in gold], ["LOC", "PER"])
    assert chosen_counts(right[:, :20], right[:, 20:], per_type=False, gated=True, rng=rng).tolist() == [10, 0, 0]
