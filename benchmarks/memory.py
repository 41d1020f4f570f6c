"""The project memory of names, measured offline on the learning curve's recorded predictions.

No LLM call: the memory acts on an answer after the LLM, so its effect at a point of the curve is
that point's recorded predictions with and without it, on the same held-apart sentences (paired).
Corrections come two ways:
- random: the curve's own draw, the first N corrections applied to the predictions of point N;
- in order: a team working through the corpus in order, so each held-apart sentence is predicted
  after every sentence before it was corrected; applied to the predictions of point 0.
The memory learns here only what annotators submit (their labels): a "not an entity" vote needs the
backend's prediction of each corrected sentence, which the curve did not record.

    .venv/bin/python -m benchmarks.memory wikigold \
        --curve benchmarks/results/archive/learning-wikigold-2026-12-02.json

A curve recorded with the memory on holds its regions already, so it is refused: by default the curve of
the ablation row name_memory=false is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from reversener.corrections import NameMemory
from reversener.evaluation import scores
from reversener.readers import read_conll
from reversener.types import Sentence

from .common import DATASETS, RESULTS, ROOT, gain, machine, read_json, write_json
from .learning_curve import draw, recorded_sentences
from .learning_curve import result_path as curve_path

__all__ = ["run", "labels_of"]


def labels_of(sentence: Sentence) -> dict[str, str]:
    """What an annotator who submits this sentence says of its names."""
    return {sentence.text[s.start : s.end]: s.label for s in sentence.spans}


def _remembered(memories: list[NameMemory], predicted: list[Sentence], types: set[str]) -> list[Sentence]:
    return [Sentence(p.text, memory.apply(p.text, p.spans, types).spans) for memory, p in zip(memories, predicted,
                                                                                            strict=True)]


def run(dataset: Annotated[str, typer.Argument(help="wikigold or wnut17.")],
        min_agreement: Annotated[float, typer.Option(help="Agreement a name needs.")] = 0.75,
        curve_file: Annotated[Path | None, typer.Option(
            "--curve", help="A recorded curve of the data set made without the memory; unset: its curve with "
                            "--setting name_memory=false.")] = None) -> None:
    """Score each point of the recorded curve with and without the memory; write JSON and a table."""
    path = curve_file or curve_path(dataset, {"name_memory": "false"})
    curve = read_json(path, {})
    if not curve.get("points"):
        raise typer.BadParameter(f"no learning curve at {path}: run `benchmarks.learning_curve {dataset} --setting "
                                 "name_memory=false`, or give --curve an archived one (benchmarks/results/archive/)")
    if curve.get("method", {}).get("name_memory") or curve.get("dataset") != dataset:
        # Its predictions hold the memory's regions already: "without" would not be without.
        raise typer.BadParameter(f"{path} is not a curve of {dataset} made without the memory of names",
                                 param_hint="--curve")
    points = {int(k): p for k, p in curve["points"].items() if p.get("done") == curve["held_apart"]}
    held, pool = draw(dataset, curve["held_apart"], curve["seed"], max(points))
    types = {s.label for g in held for s in g.spans}
    rows = {}
    for n, point in sorted(points.items()):
        predicted = recorded_sentences(held, point["predictions"])
        memory = NameMemory((labels_of(s) for s in pool[:n]), min_agreement)
        rows[f"random {n}"] = {"corrections": n, "names": len(memory), "without": scores(held, predicted),
                               "with": scores(held, _remembered([memory] * len(held), predicted, types))}
    corpus = read_conll(DATASETS[dataset])
    position = {s.text: i for i, s in enumerate(corpus)}
    before = [NameMemory((labels_of(s) for s in corpus[: position[g.text]]), min_agreement) for g in held]
    predicted = recorded_sentences(held, points[0]["predictions"])
    rows["in order"] = {"corrections": sum(position[g.text] for g in held) // len(held),
                        "names": sum(len(m) for m in before) // len(held), "without": scores(held, predicted),
                        "with": scores(held, _remembered(before, predicted, types))}
    results = {"dataset": dataset, "held_apart": len(held), "seed": curve["seed"], "min_agreement": min_agreement,
               "curve": str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path),
               "curve_model": curve["model"], "rows": rows, "machine": machine()}
    write_json(RESULTS / f"memory-{dataset}.json", results)
    _print(results)


def _print(results: dict) -> None:
    table = Table(title=f"{results['dataset']}: the memory of names on {results['held_apart']} held-apart sentences")
    for column in ("corrections", "names", "F1 without", "F1 with", "with - without (95% CI)", "per-type F1 with"):
        table.add_column(column, justify="right")
    for name, row in results["rows"].items():
        per_type = ", ".join(f"{t} {f:.2f}" for t, f in sorted(row["with"]["per_type_f1"].items()))
        table.add_row(f"{name} ({row['corrections']})" if name == "in order" else name, str(row["names"]),
                      f"{row['without']['f1']:.3f}", f"{row['with']['f1']:.3f}", gain(row["without"], row["with"]),
                      per_type)
    Console(width=180).print(table)


if __name__ == "__main__":
    typer.run(run)
