"""Strict span-level NER evaluation: a predicted span counts only if (start, end, label) match.

This is the CoNLL-style exact-match metric the ReverseNER paper reports, computed on
character spans so it does not depend on any tokenization.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from .types import Sentence

__all__ = ["Scores", "Report", "evaluate", "bootstrap_f1", "bootstrap_f1_gain", "sentence_counts", "calibration",
           "auroc"]

Key = tuple[int, int, str]


@dataclass
class Scores:
    """True positive, false positive and false negative counts with the derived rates."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return _f1(self.tp, self.fp, self.fn)


@dataclass
class Report:
    """Micro-averaged scores over all types, and scores per type (sorted by type name)."""

    micro: Scores = field(default_factory=Scores)
    per_type: dict[str, Scores] = field(default_factory=dict)


def evaluate(gold: Sequence[Sentence], predicted: Sequence[Sentence]) -> Report:
    """Score predictions against gold sentences, pair by pair (same order, same texts).

    Duplicate spans within one sentence count once, in gold and in predictions alike.
    """
    per_type: dict[str, Scores] = defaultdict(Scores)
    for gold_keys, pred_keys in _pairs(gold, predicted):
        for *_, label in gold_keys & pred_keys:
            per_type[label].tp += 1
        for *_, label in pred_keys - gold_keys:
            per_type[label].fp += 1
        for *_, label in gold_keys - pred_keys:
            per_type[label].fn += 1
    micro = Scores(
        tp=sum(s.tp for s in per_type.values()),
        fp=sum(s.fp for s in per_type.values()),
        fn=sum(s.fn for s in per_type.values()),
    )
    return Report(micro=micro, per_type={label: per_type[label] for label in sorted(per_type)})


def sentence_counts(
    gold: Sequence[Sentence], predicted: Sequence[Sentence], label: str | None = None
) -> list[tuple[int, int, int]]:
    """(tp, fp, fn) per sentence, of one type's spans if `label` is given: what the bootstrap
    resamples, and what a paired comparison of two runs on the same sentences needs."""
    pairs = _pairs(gold, predicted)
    if label is not None:
        pairs = [({k for k in g if k[2] == label}, {k for k in p if k[2] == label}) for g, p in pairs]
    return [(len(g & p), len(p - g), len(g - p)) for g, p in pairs]


def calibration(
    gold: Sequence[Sentence], predicted: Sequence[Sentence], thresholds: Sequence[float], bins: int = 10
) -> dict:
    """How well predicted spans' scores say which spans are right: AUROC of the score for "this span
    is in the gold", micro P/R/F1 when spans below each threshold are dropped, and a reliability
    table (mean score against share correct, per score bin). Spans without a score are left out of
    the AUROC and the table and kept at every threshold."""
    pairs = _pairs(gold, predicted)
    scored = [(s.score, s.key in g) for (g, _), p in zip(pairs, predicted, strict=True)
              for s in p.spans if s.score is not None]
    gold_total = sum(len(g) for g, _ in pairs)
    scores = np.array([x for x, _ in scored], dtype=float)
    correct = np.array([y for _, y in scored], dtype=bool)
    unscored = [(s.key in g) for (g, _), p in zip(pairs, predicted, strict=True) for s in p.spans if s.score is None]
    by_threshold = []
    for threshold in thresholds:
        keep = scores >= threshold - 1e-12
        tp = int(correct[keep].sum()) + sum(unscored)
        kept = int(keep.sum()) + len(unscored)
        by_threshold.append({"threshold": threshold, "kept": kept, "precision": tp / kept if kept else 0.0,
                             "recall": tp / gold_total if gold_total else 0.0,
                             "f1": _f1(tp, kept - tp, gold_total - tp)})
    table = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    for low, high in pairwise(edges):
        inside = (scores >= low) & ((scores < high) if high < 1.0 else (scores <= high))
        if inside.any():
            table.append({"low": float(low), "high": float(high), "count": int(inside.sum()),
                          "mean_score": float(scores[inside].mean()), "correct": float(correct[inside].mean())})
    return {"spans": len(scored), "auroc": auroc(scores, correct), "by_threshold": by_threshold,
            "reliability": table}


def auroc(scores: np.ndarray, correct: np.ndarray) -> float | None:
    """Probability that a correct item outscores a wrong one (ties count half); None if either is absent."""
    if correct.all() or not correct.any():
        return None
    from sklearn.metrics import roc_auc_score  # only evaluations need it

    return float(roc_auc_score(correct, scores))


def bootstrap_f1(
    gold: Sequence[Sentence], predicted: Sequence[Sentence], n: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile interval of micro-F1, resampling sentences with replacement.

    Deterministic for a given seed. An empty data set gives (0.0, 0.0).
    """
    counts = _matrix(sentence_counts(gold, predicted))
    return _interval([_micro_f1(counts[i]) for i in _resamples(len(counts), n, seed)])


def bootstrap_f1_gain(
    before: Sequence[Sequence[int]], after: Sequence[Sequence[int]], n: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% interval of F1(after) - F1(before) from two runs' sentence_counts on the same sentences.

    Paired: each resample takes the same sentences from both runs, so the interval reflects the
    difference between the runs, not how hard the sample is.
    """
    a, b = _matrix(before), _matrix(after)
    if len(a) != len(b):
        raise ValueError(f"a paired comparison needs the same sentences: {len(a)} counts against {len(b)}")
    return _interval([_micro_f1(b[i]) - _micro_f1(a[i]) for i in _resamples(len(a), n, seed)])


def _matrix(counts: Sequence[Sequence[int]]) -> np.ndarray:
    return np.array(counts, dtype=np.int64).reshape(-1, 3)  # (0, 3) when there are no sentences


def _resamples(size: int, n: int, seed: int):
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    for _ in range(n if size else 0):
        yield rng.integers(0, size, size=size)


def _interval(values: list[float]) -> tuple[float, float]:
    if not values:
        return (0.0, 0.0)
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))


def _micro_f1(counts: np.ndarray) -> float:
    tp, fp, fn = counts.sum(axis=0)
    return _f1(int(tp), int(fp), int(fn))


def _pairs(
    gold: Sequence[Sentence], predicted: Sequence[Sentence]
) -> list[tuple[set[Key], set[Key]]]:
    """Return (gold keys, predicted keys) per sentence pair, checking that the pairs line up."""
    if len(gold) != len(predicted):
        raise ValueError(
            f"gold has {len(gold)} sentences but predicted has {len(predicted)}; "
            "pass one prediction per gold sentence, in the same order"
        )
    pairs = []
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if g.text != p.text:
            raise ValueError(
                f"sentence {i}: predicted text differs from gold text "
                f"({p.text[:40]!r} vs {g.text[:40]!r}); keep the order of the gold data"
            )
        pairs.append(({s.key for s in g.spans}, {s.key for s in p.spans}))
    return pairs


def _f1(tp: int, fp: int, fn: int) -> float:
    """F1 = 2tp / (2tp + fp + fn), which equals 2PR/(P+R); 0.0 when there is nothing to score."""
    denominator = 2 * tp + fp + fn
    return 2 * tp / denominator if denominator else 0.0
