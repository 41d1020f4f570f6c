"""Combining the zero-shot and the ReverseNER answers, measured on the quality rows alone (no LLM
calls): each rule merges the two rows' spans for every sentence and is scored against the gold with
paired intervals against both rows. A rule earns a place in the method only if it wins on both sets.

    .venv/bin/python -m benchmarks.combine wikigold wnut17
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

import typer

from reversener.combine import RULES, combine
from reversener.confidence import above
from reversener.config import MethodConfig
from reversener.evaluation import pick_sentences, scores, sentences_from
from reversener.readers import read_conll
from reversener.types import Sentence

from .common import DATASETS, RESULTS, gain, read_json, write_json
from .quality import DEFAULT_SAMPLE, result_path


def run(
    datasets: Annotated[list[str], typer.Argument(help=f"Some of {', '.join(DATASETS)}.")],
    sample: int = DEFAULT_SAMPLE,
) -> None:
    """Write benchmarks/results/combine.json and print each rule against both rows."""
    figures = {"sample": sample, "datasets": {}}
    for dataset in datasets:
        results = read_json(result_path(dataset, sample)) or {}
        rows = results.get("rows", {})
        if "zero-shot" not in rows or "reversener" not in rows:
            print(f"{dataset}: run benchmarks.quality {dataset} --rows zero-shot,reversener first")
            continue
        gold = pick_sentences(read_conll(DATASETS[dataset]), sample=sample, seed=results["seed"])
        zero, few = (sentences_from(gold, rows[name]["per_sentence"]) for name in ("zero-shot", "reversener"))
        figures["datasets"][dataset] = evaluate_rules(gold, zero, few, rows["zero-shot"], rows["reversener"])
    write_json(RESULTS / "combine.json", figures)
    for dataset, table in figures["datasets"].items():
        print(f"\n{dataset} ({sample} sentences)")
        for name, row in table.items():
            print(f"  {name:34s} P {row['precision']:.3f} R {row['recall']:.3f} F1 {row['f1']:.3f}  "
                  f"vs zero-shot {row['vs_zero_shot']}  vs reversener {row['vs_reversener']}")


def evaluate_rules(gold: Sequence[Sentence], zero: Sequence[Sentence], few: Sequence[Sentence],
                   zero_row: dict, few_row: dict) -> dict[str, dict]:
    table = {}
    for name, rule in _grid().items():
        merged = [Sentence(g.text, tuple(rule(a.spans, b.spans))) for g, a, b in zip(gold, zero, few, strict=True)]
        row = scores(gold, merged)
        table[name] = {k: row[k] for k in ("precision", "recall", "f1", "f1_interval", "per_type_f1")} | {
            "vs_zero_shot": gain(zero_row, row), "vs_reversener": gain(few_row, row)}
    return table


def _grid() -> dict[str, Callable]:
    grid = {}
    for rule in RULES:
        for threshold in (0.0, 0.3, 0.5, 0.7, 0.9):
            grid[f"{rule}, single-source score >= {threshold:g}"] = (
                lambda a, b, rule=rule, t=threshold: combine(a, b, rule, t))
    for threshold in (0.3, 0.5):  # with MIN_SCORE, as the recognizer applies it: to each answer first
        grid[f"union, single-source score >= {threshold:g}, MIN_SCORE {MIN_SCORE:g}"] = (
            lambda a, b, t=threshold: combine(above(a, MIN_SCORE), above(b, MIN_SCORE), "union", t))
    return grid


MIN_SCORE = MethodConfig().min_score  # the default: the threshold that raised F1 of both rows on both sets


if __name__ == "__main__":
    typer.run(run)
