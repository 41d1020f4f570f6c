"""A threshold per project: does the MIN_SCORE that maximizes F1 on a project's corrections do
better on its other tasks than the default (`reversener.thresholds`, LEARN_THRESHOLDS)? Scored
offline from the quality rows' recorded answers (the default method's row, every region with its
score): in each of DRAWS seeded draws, n of the sample's sentences play the corrected tasks and the
others the tasks still to predict.

Variants: one threshold for every type, or one per type (each type's chosen with the others at
MIN_SCORE); thresholds from MIN_SCORE to 0.9, as the backend's kept answers hold no region below
MIN_SCORE; each either the best on the corrections always, or only where it beats MIN_SCORE on them
with a paired bootstrap lower bound above zero (gated, as the backend does). Reported per variant:
the mean F1 gain over MIN_SCORE on the other tasks, and its 2.5 and 97.5 percentiles over draws
(what a project's luck in its corrections does).

    .venv/bin/python -m benchmarks.threshold
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from reversener.config import MethodConfig
from reversener.thresholds import RESAMPLES, best_index, grid, micro_f1, per_type_choice
from reversener.types import Sentence

from .common import RESULTS, machine, spread, write_json
from .quality import DEFAULT_SAMPLE, recorded_answers

__all__ = ["run", "GRID", "VARIANTS", "counts_table", "chosen_counts"]

GRID = grid(MethodConfig().min_score)  # as the backend tries them: its kept answers hold no region below
VARIANTS = ("one threshold", "one per type", "one threshold, gated", "one per type, gated (the backend's)")
DRAWS = 200


def counts_table(gold: Sequence[Sentence], predicted: Sequence[Sentence], types: Sequence[str]) -> np.ndarray:
    """Exact-match counts [type, sentence, threshold of GRID, (tp, fp, fn)] with the regions scored
    below the threshold dropped (a region without a score is kept)."""
    table = np.zeros((len(types), len(gold), len(GRID), 3))
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        for k, label in enumerate(types):
            truth = {(s.start, s.end) for s in g.spans if s.label == label}
            for j, threshold in enumerate(GRID):
                kept = {(s.start, s.end) for s in p.spans
                        if s.label == label and (s.score is None or s.score >= threshold)}
                table[k, i, j] = len(truth & kept), len(kept - truth), len(truth - kept)
    return table


def chosen_counts(learn: np.ndarray, apply: np.ndarray, per_type: bool, gated: bool,
                  rng: np.random.Generator) -> np.ndarray:
    """The (tp, fp, fn) on the `apply` sentences with the threshold(s) chosen on the `learn` ones
    (both [type, sentence, threshold, 3]), as `reversener.thresholds` chooses them."""
    if per_type:
        chosen = per_type_choice(learn, 0, gated, rng)
        return sum((apply[k, :, j].sum(0) for k, j in enumerate(chosen)), np.zeros(3))
    resampled = rng.integers(0, learn.shape[1], (RESAMPLES, learn.shape[1]))
    j = best_index(learn.sum(0), np.zeros((learn.shape[1], 3)), 0, gated, resampled)
    return apply[:, :, j].sum((0, 1))


def run(sample: Annotated[int, typer.Option(min=1, help="The quality rows' sample size.")] = DEFAULT_SAMPLE,
        corrections: Annotated[str, typer.Option(help="Corrected tasks per draw.")] = "25,50,100") -> None:
    """Score each variant on every data set whose default row is recorded; write JSON and a table."""
    results: dict = {"sample": sample, "draws": DRAWS, "grid": list(GRID), "min_score": MethodConfig().min_score,
                     "sets": {}, "machine": machine()}
    for dataset, _, gold, predicted in recorded_answers(sample):
        table = counts_table(gold, predicted, sorted({s.label for g in gold for s in g.spans}))
        rng = np.random.default_rng(0)
        per_n: dict[str, dict] = {}
        for n in (int(c) for c in corrections.split(",")):
            gains: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for _ in range(DRAWS):
                order = rng.permutation(len(gold))
                learn, apply = table[:, order[:n]], table[:, order[n:]]
                default = micro_f1(apply[:, :, 0].sum((0, 1)))
                for variant in VARIANTS:
                    counts = chosen_counts(learn, apply, "per type" in variant, "gated" in variant, rng)
                    gains[variant].append(100 * float(micro_f1(counts) - default))
            per_n[str(n)] = {v: spread(g) for v, g in gains.items()}
        results["sets"][dataset] = per_n
    write_json(RESULTS / "threshold.json", results)
    _print(results)


def _print(results: dict) -> None:
    for dataset, per_n in results["sets"].items():
        table = Table(title=f"{dataset}: F1 points over MIN_SCORE on the tasks not corrected (mean, 2.5-97.5%)")
        table.add_column("corrections", justify="right")
        for variant in VARIANTS:
            table.add_column(variant, justify="right")
        for n, gains in per_n.items():
            table.add_row(n, *(f"{g['mean']:+.1f} ({g['low']:+.1f} to {g['high']:+.1f})" for g in gains.values()))
        Console(width=160).print(table)


if __name__ == "__main__":
    typer.run(run)
