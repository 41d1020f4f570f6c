"""Scores calibrated per project: does a map learned on a project's corrections tell better than the
LLM's raw score how likely annotators keep a region of its other tasks? (Issue item: "regions' scores
are calibrated on what annotators kept and deleted".) Scored offline from the quality rows' recorded
answers (the default method's row, every region with its score, those below MIN_SCORE left out as the
backend drops them): in each of DRAWS seeded draws, n of the sample's sentences play the corrected
tasks and the others the tasks still to predict. A region is kept where it matches a gold entity
exactly.

The calibration: an isotonic regression (or Platt scaling: a logistic regression on the score's
log-odds) of kept on score over the corrections, adopted only where it predicts corrections held out
of it better than the raw scores (a lower Brier score over folds that leave whole corrections out).
It lives here, not in the backend: on neither data set did it beat the raw scores on the tasks not
corrected (docs/benchmarks.md), so the backend serves the LLM's scores.

Reported per n and method: the Brier score per region on the other tasks with the raw scores and
with the project's calibration (the identity where it was not adopted), the difference's mean and
2.5 and 97.5 percentiles over draws, and in how many draws a calibration was adopted.

    .venv/bin/python -m benchmarks.calibrate
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from reversener.config import MethodConfig
from reversener.thresholds import Scored, scored_record
from reversener.types import Span

from .common import RESULTS, machine, spread, write_json
from .quality import DEFAULT_SAMPLE, recorded_answers

__all__ = ["run", "Calibration", "brier", "DRAWS", "METHODS"]

DRAWS = 200
METHODS = ("isotonic", "logistic")
FOLDS = 5
KNOTS = np.linspace(0.0, 1.0, 101)


def _logit(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(scores, dtype=float), 1e-4, 1 - 1e-4)
    return np.log(clipped / (1 - clipped))


@dataclass(frozen=True)
class Calibration:
    """A monotone map from the LLM's score to the share of regions annotators kept, as knots to
    interpolate between; none (the identity) until adopted."""

    scores: tuple[float, ...] = ()
    kept: tuple[float, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.scores)

    def score(self, raw: float) -> float:
        return round(float(np.interp(raw, self.scores, self.kept)), 4) if self else raw

    def apply(self, spans: Sequence[Span]) -> list[Span]:
        """The spans with their scores calibrated (a span without a score keeps none)."""
        return [s if s.score is None else replace(s, score=self.score(s.score)) for s in spans]

    def digest(self) -> str:
        """Short and stable: part of model_version once adopted."""
        return hashlib.sha256(json.dumps([self.scores, self.kept]).encode()).hexdigest()[:6]

    @classmethod
    def fit(cls, scores: np.ndarray, kept: np.ndarray, method: str = "isotonic") -> Calibration:
        """Isotonic regression, or (`logistic`) a logistic regression on the score's log-odds (Platt
        scaling), read at KNOTS scores."""
        if method == "logistic":
            from sklearn.linear_model import LogisticRegression

            if len(set(kept)) < 2:
                return cls(tuple(KNOTS), tuple(float(kept[0]) for _ in KNOTS))
            model = LogisticRegression().fit(_logit(scores)[:, None], kept)
            return cls(tuple(KNOTS), tuple(float(y) for y in model.predict_proba(_logit(KNOTS)[:, None])[:, 1]))
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, kept)
        return cls(tuple(float(x) for x in model.X_thresholds_), tuple(float(y) for y in model.y_thresholds_))

    @classmethod
    def learn(cls, records: Sequence[Scored], minimum: int, folds: int = FOLDS, seed: int = 0,
              method: str = "isotonic") -> Calibration:
        """From the corrections' records; none before `minimum` corrections, with fewer corrections
        holding a scored region than `folds`, or where it does not predict held-out ones better."""
        pairs = [[(score, kept) for _, score, kept in r.regions if score is not None] for r in records]
        pairs = [p for p in pairs if p]
        if len(records) < minimum or len(pairs) < max(folds, 2):
            return cls()
        fold = np.random.default_rng(seed).permutation(len(pairs)) % folds
        raw, calibrated = 0.0, 0.0
        for k in range(folds):
            train = [pair for i, p in enumerate(pairs) if fold[i] != k for pair in p]
            test = np.array([pair for i, p in enumerate(pairs) if fold[i] == k for pair in p], dtype=float)
            if not train or not len(test):
                continue
            learned = cls.fit(*np.array(train, dtype=float).T, method=method)
            raw += brier(test[:, 0], test[:, 1])
            calibrated += brier(np.array([learned.score(x) for x in test[:, 0]]), test[:, 1])
        if calibrated >= raw:
            return cls()
        return cls.fit(*np.array([pair for p in pairs for pair in p], dtype=float).T, method=method)


def brier(predicted: np.ndarray, kept: np.ndarray) -> float:
    """Summed squared error of predicted keep-probabilities: lower is better calibrated."""
    return float(np.sum((np.asarray(predicted, dtype=float) - np.asarray(kept, dtype=float)) ** 2))


def run(sample: Annotated[int, typer.Option(min=1, help="The quality rows' sample size.")] = DEFAULT_SAMPLE,
        corrections: Annotated[str, typer.Option(help="Corrected tasks per draw.")] = "25,50,100") -> None:
    """Score the calibration on every data set whose default row is recorded; write JSON and a table."""
    min_score = MethodConfig().min_score
    results: dict = {"sample": sample, "draws": DRAWS, "min_score": min_score, "sets": {}, "machine": machine()}
    for dataset, _, gold, predicted in recorded_answers(sample):
        records = [scored_record(p.spans, g.spans) for g, p in zip(gold, predicted, strict=True)]
        rng = np.random.default_rng(0)
        per_n: dict[str, dict] = {}
        for n, method in ((int(c), m) for c in corrections.split(",") for m in METHODS):
            raw, calibrated, gains, adopted = [], [], [], 0
            for _ in range(DRAWS):
                order = rng.permutation(len(records))
                learned = Calibration.learn([records[i] for i in order[:n]], minimum=n, method=method)
                adopted += bool(learned)
                pairs = np.array([(score, kept) for i in order[n:] for _, score, kept in records[i].regions
                                  if score is not None], dtype=float)
                before = brier(pairs[:, 0], pairs[:, 1]) / len(pairs)
                after = brier(np.array([learned.score(x) for x in pairs[:, 0]]), pairs[:, 1]) / len(pairs)
                raw.append(before)
                calibrated.append(after)
                gains.append(100 * (before - after))
            per_n[f"{n}, {method}"] = {"raw": float(np.mean(raw)), "calibrated": float(np.mean(calibrated)),
                             "gain": spread(gains), "adopted": adopted}
        results["sets"][dataset] = per_n
    write_json(RESULTS / "calibrate.json", results)
    _print(results)


def _print(results: dict) -> None:
    for dataset, per_n in results["sets"].items():
        table = Table(title=f"{dataset}: Brier score per region on the tasks not corrected ({results['draws']} draws)")
        for column in ("corrections, method", "raw", "calibrated", "raw − calibrated ×100 (2.5-97.5%)", "adopted"):
            table.add_column(column, justify="right")
        for n, row in per_n.items():
            g = row["gain"]
            table.add_row(n, f"{row['raw']:.4f}", f"{row['calibrated']:.4f}",
                          f"{g['mean']:+.2f} ({g['low']:+.2f} to {g['high']:+.2f})", str(row["adopted"]))
        Console(width=160).print(table)


if __name__ == "__main__":
    typer.run(run)
