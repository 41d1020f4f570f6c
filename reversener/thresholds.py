"""What annotators kept and deleted of the LLM's answers teaches: a threshold per entity type, and
the types the model misses.

Each corrected task tells, for every region the LLM answered with a score, whether the annotator
kept it exactly, and how many regions of each type the annotation holds. For each type, the score
threshold (MIN_SCORE up to 0.9) that maximizes micro F1 over the corrections, the other types at
MIN_SCORE, replaces MIN_SCORE only where it beats it on a paired bootstrap over the corrections
(lower bound above zero): a few corrections, or a gain that luck could give, leave MIN_SCORE.
A type the model found less than half of, over at least 3 corrected regions, is missed: the
recognizer can show it in every prompt (COVERAGE_DEMONSTRATIONS). Pure data: the backend stores the
corrections' records and applies what they teach.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .types import Span

__all__ = ["Scored", "Thresholds", "grid", "best_index", "per_type_choice", "scored_record", "micro_f1", "RESAMPLES",
           "missed_types"]

STEP, TOP = 0.05, 0.9
RESAMPLES = 200


@dataclass(frozen=True)
class Scored:
    """One corrected task: each region of the LLM's answer as (label, score or None, kept exactly),
    and the annotation's number of regions per label."""

    regions: tuple[tuple[str, float | None, bool], ...]
    gold: Mapping[str, int]


def scored_record(answer: Sequence[Span], annotated: Sequence[Span]) -> Scored:
    """What one correction says of the answer: its regions, each kept or not."""
    final = {s.key for s in annotated}
    gold: dict[str, int] = {}
    for s in annotated:
        gold[s.label] = gold.get(s.label, 0) + 1
    return Scored(tuple((s.label, s.score, s.key in final) for s in answer), gold)


def missed_types(records: Sequence[Scored], min_gold: int = 3, max_recall: float = 0.5) -> list[str]:
    """The labels of which the LLM's answers held less than `max_recall` of the corrected regions, over
    at least `min_gold` of them; fewest found first."""
    gold: dict[str, int] = {}
    found: dict[str, int] = {}
    for record in records:
        for label, count in record.gold.items():
            gold[label] = gold.get(label, 0) + count
        for label, _, kept in record.regions:
            found[label] = found.get(label, 0) + kept
    recall = {label: found.get(label, 0) / n for label, n in gold.items() if n >= min_gold}
    return sorted((label for label, r in recall.items() if r < max_recall), key=lambda label: (recall[label], label))


def grid(min_score: float) -> tuple[float, ...]:
    """The thresholds tried: MIN_SCORE, then every STEP above it up to TOP."""
    steps = int(round((TOP - min_score) / STEP)) if min_score < TOP else 0
    return (min_score, *(round(min_score + STEP * k, 4) for k in range(1, steps + 1)))


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """F1 of (tp, fp, fn) counts in the last axis."""
    return 2 * counts[..., 0] / np.maximum(1, 2 * counts[..., 0] + counts[..., 1] + counts[..., 2])


def best_index(varied: np.ndarray, rest: np.ndarray, base: int, gated: bool, resampled: np.ndarray) -> int:
    """The threshold index that maximizes micro F1 of `varied` [task, threshold, (tp, fp, fn)] plus
    `rest` [task, (tp, fp, fn)]; `base` on a tie, or (gated) unless it wins on every resampling of the
    tasks but the worst 2.5% (`resampled`: [resample, task] indices)."""
    f1 = micro_f1(varied.sum(0) + rest.sum(0))
    j = base if f1[base] >= f1.max() else int(np.argmax(f1))
    if gated and j != base:
        totals = varied[resampled].sum(1) + rest[resampled].sum(1)[:, None]  # [resample, threshold, 3]
        if np.percentile(micro_f1(totals[:, j]) - micro_f1(totals[:, base]), 2.5) <= 0:
            return base
    return j


def per_type_choice(table: np.ndarray, base: int, gated: bool, rng: np.random.Generator) -> list[int]:
    """Each type's threshold index from `table` [type, task, threshold, 3], the other types at `base`
    (a type no correction holds has F1 0 at every threshold: its own F1 could not see its wrong regions)."""
    resampled = rng.integers(0, table.shape[1], (RESAMPLES, table.shape[1]))
    at_base = table[:, :, base]
    return [best_index(table[k], at_base.sum(0) - at_base[k], base, gated, resampled) for k in range(table.shape[0])]


@dataclass(frozen=True)
class Thresholds:
    """Per label, the score below which the LLM's regions are dropped, where it is above MIN_SCORE;
    `judged`, the labels the corrections were weighed for (raised or left)."""

    raised: Mapping[str, float] = field(default_factory=dict)
    judged: frozenset[str] = frozenset()

    @classmethod
    def learn(cls, records: Sequence[Scored], min_score: float, minimum: int, seed: int = 0) -> Thresholds:
        """From the corrections' records, for every label they hold; none raised before `minimum`
        corrections."""
        types = sorted({label for r in records for label, _, _ in r.regions} | {g for r in records for g in r.gold})
        if len(records) < minimum or not types:
            return cls()
        steps = grid(min_score)
        table = np.zeros((len(types), len(records), len(steps), 3))
        index = {label: k for k, label in enumerate(types)}
        for i, record in enumerate(records):
            for label, score, kept in record.regions:
                if label not in index:
                    continue
                passing = np.array([score is None or score >= t for t in steps])
                table[index[label], i, :, 0 if kept else 1] += passing
            for label, count in record.gold.items():
                if label in index:
                    table[index[label], i, :, 2] += count
        table[..., 2] -= table[..., 0]  # a kept region is no miss
        chosen = per_type_choice(table, 0, gated=True, rng=np.random.default_rng(seed))
        return cls({label: steps[j] for label, j in zip(types, chosen, strict=True) if j}, frozenset(types))

    @property
    def left(self) -> frozenset[str]:
        """The labels weighed and left at MIN_SCORE."""
        return self.judged - self.raised.keys()

    def apply(self, spans: Sequence[Span]) -> list[Span]:
        """The spans whose score reaches their type's threshold (those without a score are kept)."""
        return [s for s in spans if s.score is None or s.score >= self.raised.get(s.label, 0.0)]

    def digest(self) -> str:
        """Short and stable: part of model_version once a threshold is raised."""
        return hashlib.sha256(json.dumps(sorted(self.raised.items())).encode()).hexdigest()[:6]

    def __bool__(self) -> bool:
        return bool(self.raised)
