"""A span model per project (`reversener.span_model`): do its spans, for the types a project's
corrections show the LLM missing, raise F1 on the project's other tasks? Scored offline from the
quality rows' recorded answers (the default method's row), as `benchmarks.threshold` is: in each of
DRAWS seeded draws, n of the sample's sentences play the corrected tasks and the others the tasks
still to predict. The model is trained on the n corrections' gold spans and the row's generated
examples; the types to add are those the LLM found less than half of in the n corrections
(`reversener.thresholds.missed_types`, as the backend decides them).

Variants, each against the LLM's answers alone on the same tasks: the model's spans added for the
missed types that `reversener.span_model.adopted` keeps (those whose spans raised F1 on the n
corrections, each predicted by a model trained without it), for every missed type, and for every
type (to show why not).
Reported: the mean F1 gain and its 2.5 and 97.5 percentiles over draws, and the model alone.

    .venv/bin/python -m benchmarks.span_model
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from reversener.embeddings import SentenceTransformerEmbedder
from reversener.library import ExampleLibrary
from reversener.metrics import evaluate
from reversener.span_model import SpanModel, adopted, features_of, merge
from reversener.thresholds import missed_types, scored_record
from reversener.types import Sentence

from .common import RESULTS, gains_table, machine, spread, write_json
from .quality import DEFAULT_SAMPLE, recorded_answers

__all__ = ["run", "VARIANTS"]

VARIANTS = ("missed types, adopted on held-out corrections", "missed types only", "every type", "span model alone")
DRAWS = 20  # a model is trained per draw: seconds each on 2 cores


def run(sample: Annotated[int, typer.Option(min=1, help="The quality rows' sample size.")] = DEFAULT_SAMPLE,
        corrections: Annotated[str, typer.Option(help="Corrected tasks per draw.")] = "25,50,100",
        min_score: Annotated[float, typer.Option(help="Least score of a span the model adds.")] = 0.5) -> None:
    """Score each variant on every data set whose default row is recorded; write JSON and a table."""
    results: dict = {"sample": sample, "draws": DRAWS, "min_score": min_score, "sets": {}, "machine": machine()}
    embedder = SentenceTransformerEmbedder()
    for dataset, quality, gold, llm in recorded_answers(sample):
        generated = [e.sentence for e in ExampleLibrary.from_dict(quality["rows"]["reversener"]["library"])]
        held = features_of(embedder.pieces, [g.text for g in gold])
        shots = features_of(embedder.pieces, [g.text for g in generated])
        rng = np.random.default_rng(0)
        per_n: dict[str, dict] = {}
        for n in (int(c) for c in corrections.split(",")):
            gains: dict[str, list[float]] = {v: [] for v in VARIANTS}
            per_type: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
            chosen: list[list[str]] = []
            taken: list[list[str]] = []
            for _ in range(DRAWS):
                order = rng.permutation(len(gold))
                learn, apply = order[:n], order[n:]
                model = SpanModel().fit([gold[i] for i in learn] + generated, [held[i] for i in learn] + shots)
                found = model.predict([gold[i].text for i in apply], [held[i] for i in apply])
                missed = missed_types([scored_record(llm[i].spans, gold[i].spans) for i in learn])
                kept = adopted([gold[i] for i in learn], [llm[i].spans for i in learn], [held[i] for i in learn],
                               missed, min_score, list(zip(generated, shots, strict=True)))
                chosen.append(sorted(missed))
                taken.append(kept)
                truth, alone = [gold[i] for i in apply], [llm[i] for i in apply]
                base = evaluate(truth, alone)
                every = {s.label for g in gold for s in g.spans}
                for variant, spans in ((VARIANTS[0], [merge(a.spans, f, kept, min_score)
                                                       for a, f in zip(alone, found, strict=True)]),
                                       ("missed types only", [merge(a.spans, f, missed, min_score)
                                                              for a, f in zip(alone, found, strict=True)]),
                                       ("every type", [merge(a.spans, f, every, min_score)
                                                       for a, f in zip(alone, found, strict=True)]),
                                       ("span model alone", found)):
                    report = evaluate(truth, [Sentence(t.text, tuple(s)) for t, s in zip(truth, spans, strict=True)])
                    gains[variant].append(100 * (report.micro.f1 - base.micro.f1))
                    for label, stats in report.per_type.items():
                        per_type[variant].setdefault(label, []).append(
                            100 * (stats.f1 - base.per_type[label].f1) if label in base.per_type else 0.0)
            per_n[str(n)] = {v: spread(g) for v, g in gains.items()}
            per_n[str(n)]["missed types"] = {t: sum(t in c for c in chosen) for t in sorted(set(sum(chosen, [])))}
            per_n[str(n)]["adopted types"] = {t: sum(t in c for c in taken) for t in sorted(set(sum(taken, [])))}
            per_n[str(n)]["per type"] = {v: {t: float(np.mean(g)) for t, g in sorted(per_type[v].items())}
                                        for v in VARIANTS}
        results["sets"][dataset] = per_n
    write_json(RESULTS / "span_model.json", results)
    _print(results)


def _print(results: dict) -> None:
    for dataset, per_n in results["sets"].items():
        table = gains_table(dataset, results["draws"])
        for variant in VARIANTS:
            table.add_column(variant, justify="right")
        table.add_column("missed / adopted types (draws)")
        table.add_column("per type, adopted")
        for n, row in per_n.items():
            table.add_row(n, *(f"{row[v]['mean']:+.1f} ({row[v]['low']:+.1f} to {row[v]['high']:+.1f})"
                               for v in VARIANTS),
                          ", ".join(f"{t} {k}" for t, k in row["missed types"].items()) + " / "
                          + ", ".join(f"{t} {k}" for t, k in row["adopted types"].items()),
                          ", ".join(f"{t} {g:+.1f}" for t, g in row["per type"][VARIANTS[0]].items()))
        Console(width=160).print(table)


if __name__ == "__main__":
    typer.run(run)
