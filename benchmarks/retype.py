"""Types learned per project: can a light classifier, trained on a project's corrected spans, fix the
types the LLM gets wrong (WikiGold's events and works called ORG, say) on the project's other tasks?
Scored offline from the quality rows' recorded answers, as `benchmarks.span_model` is: in each of
DRAWS seeded draws, n of the sample's sentences play the corrected tasks and the others the tasks
still to predict.

The classifier: a logistic regression from a span's word pieces (the bundled MiniLM's vectors with
their shapes: the mean over the span, the piece before and the piece after) to its type, trained on
the n corrections' gold spans and the row's generated examples. It retypes an LLM region where it
gives another type a probability of at least tau. Variants per tau: always, and only where it raised
F1 on the n corrections themselves, each retyped by a classifier trained without it (5 folds).
Reported: the mean F1 gain over the LLM's answers and its 2.5 and 97.5 percentiles over draws.

    .venv/bin/python -m benchmarks.retype
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from reversener.embeddings import SentenceTransformerEmbedder
from reversener.library import ExampleLibrary
from reversener.metrics import evaluate
from reversener.span_model import TokenFeatures, features_of
from reversener.types import Sentence, Span

from .common import RESULTS, gains_table, machine, spread, write_json
from .quality import DEFAULT_SAMPLE, recorded_answers

__all__ = ["TypeModel", "run"]

DRAWS = 20
FOLDS = 5
# A region's proposals: (its index in the answer, the classifier's type, its probability).
Proposals = list[tuple[int, str, float]]


def span_vector(features: TokenFeatures, span: Span) -> np.ndarray | None:
    """The mean vector of the span's pieces with the piece before and the piece after (zeros past the
    text's ends); None where no piece lies inside the span."""
    inside = [k for k, (start, end) in enumerate(features.offsets) if span.start <= start and end <= span.end]
    if not inside:
        return None
    zeros = np.zeros(features.vectors.shape[1], np.float32)
    before = features.vectors[inside[0] - 1] if inside[0] > 0 else zeros
    after = features.vectors[inside[-1] + 1] if inside[-1] + 1 < len(features.offsets) else zeros
    return np.hstack([features.vectors[inside].mean(0), before, after])


class TypeModel:
    """A span's type from its pieces' vectors (a logistic regression)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._model = None

    def fit(self, sentences: Sequence[Sentence], features: Sequence[TokenFeatures]) -> TypeModel:
        """Train on labeled texts' spans; with fewer than two types among them, it proposes nothing."""
        from sklearn.linear_model import LogisticRegression

        rows = [(v, s.label) for sentence, f in zip(sentences, features, strict=True) for s in sentence.spans
                if (v := span_vector(f, s)) is not None]
        labels = [label for _, label in rows]
        self._model = None if len(set(labels)) < 2 else LogisticRegression(max_iter=1000, random_state=self.seed).fit(
            np.vstack([v for v, _ in rows]), labels)
        return self

    def proposals(self, answer: Sentence, features: TokenFeatures) -> Proposals:
        """For each region of `answer`, the type the classifier finds likeliest where it is not the
        region's own, with its probability."""
        if self._model is None:
            return []
        out = []
        for k, span in enumerate(answer.spans):
            vector = span_vector(features, span)
            if vector is None:
                continue
            probabilities = self._model.predict_proba(vector[None])[0]
            best = int(probabilities.argmax())
            if self._model.classes_[best] != span.label:
                out.append((k, str(self._model.classes_[best]), float(probabilities[best])))
        return out


def retyped(answer: Sentence, proposals: Proposals, tau: float) -> Sentence:
    """`answer` with each proposal of probability at least `tau` taken."""
    spans = list(answer.spans)
    for k, label, probability in proposals:
        if probability >= tau:
            spans[k] = Span(spans[k].start, spans[k].end, label, spans[k].score)
    return Sentence(answer.text, tuple(spans))


def held_out_gain(gold: Sequence[Sentence], answers: Sequence[Sentence], features: Sequence[TokenFeatures],
                  extra: tuple[list[Sentence], list[TokenFeatures]], taus: Sequence[float], seed: int = 0
                  ) -> dict[float, float]:
    """Per tau, the F1 gain of retyping on the corrections themselves, each corrected text retyped by a
    classifier trained without its fold (on the others and `extra`)."""
    fold = np.random.default_rng(seed).permutation(len(gold)) % FOLDS
    proposals: list[Proposals] = [[] for _ in gold]
    for k in range(FOLDS):
        train = [i for i in range(len(gold)) if fold[i] != k]
        model = TypeModel(seed).fit([gold[i] for i in train] + extra[0], [features[i] for i in train] + extra[1])
        for i in (i for i in range(len(gold)) if fold[i] == k):
            proposals[i] = model.proposals(answers[i], features[i])
    base = evaluate(gold, answers).micro.f1
    return {tau: evaluate(gold, [retyped(a, p, tau) for a, p in zip(answers, proposals, strict=True)]).micro.f1 - base
            for tau in taus}


def run(sample: Annotated[int, typer.Option(min=1, help="The quality rows' sample size.")] = DEFAULT_SAMPLE,
        corrections: Annotated[str, typer.Option(help="Corrected tasks per draw.")] = "25,50,100",
        taus: Annotated[str, typer.Option(help="Least probability of a type taken.")] = "0.5,0.8,0.95") -> None:
    """Score each variant on every data set whose default row is recorded; write JSON and a table."""
    thresholds = [float(t) for t in taus.split(",")]
    results: dict = {"sample": sample, "draws": DRAWS, "taus": thresholds, "sets": {}, "machine": machine()}
    embedder = SentenceTransformerEmbedder()
    for dataset, quality, gold, llm in recorded_answers(sample):
        generated = [e.sentence for e in ExampleLibrary.from_dict(quality["rows"]["reversener"]["library"])]
        extra = (generated, features_of(embedder.pieces, [g.text for g in generated]))
        held = features_of(embedder.pieces, [g.text for g in gold])
        rng = np.random.default_rng(0)
        per_n: dict[str, dict] = {}
        for n in (int(c) for c in corrections.split(",")):
            always: dict[float, list[float]] = {t: [] for t in thresholds}
            gated: dict[float, list[float]] = {t: [] for t in thresholds}
            taken = dict.fromkeys(thresholds, 0)
            for _ in range(DRAWS):
                order = rng.permutation(len(gold))
                learn, apply = order[:n], order[n:]
                model = TypeModel().fit([gold[i] for i in learn] + extra[0], [held[i] for i in learn] + extra[1])
                truth, alone = [gold[i] for i in apply], [llm[i] for i in apply]
                proposals = [model.proposals(llm[i], held[i]) for i in apply]
                base = evaluate(truth, alone).micro.f1
                wins = held_out_gain([gold[i] for i in learn], [llm[i] for i in learn], [held[i] for i in learn],
                                     extra, thresholds)
                for tau in thresholds:
                    got = 100 * (evaluate(truth, [retyped(a, p, tau) for a, p in zip(alone, proposals, strict=True)])
                                 .micro.f1 - base)
                    always[tau].append(got)
                    gated[tau].append(got if wins[tau] > 0 else 0.0)
                    taken[tau] += wins[tau] > 0
            per_n[str(n)] = {str(tau): {"always": spread(always[tau]), "adopted": spread(gated[tau]),
                                        "adopted_draws": taken[tau]} for tau in thresholds}
        results["sets"][dataset] = per_n
    write_json(RESULTS / "retype.json", results)
    _print(results)


def _print(results: dict) -> None:
    for dataset, per_n in results["sets"].items():
        table = gains_table(dataset, results["draws"])
        table.add_column("tau", justify="right")
        table.add_column("always", justify="right")
        table.add_column("adopted on held-out corrections", justify="right")
        table.add_column("adopted, draws", justify="right")
        for n, row in per_n.items():
            for tau, r in row.items():
                table.add_row(n, tau, *(f"{r[v]['mean']:+.1f} ({r[v]['low']:+.1f} to {r[v]['high']:+.1f})"
                                        for v in ("always", "adopted")), str(r["adopted_draws"]))
        Console(width=160).print(table)


if __name__ == "__main__":
    typer.run(run)
