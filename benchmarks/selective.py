"""The second call only where it pays: the default asks every text twice (with demonstrations, and
zero-shot) and merges the answers. Asking the zero-shot half only where the first answer is unsure
(its confidence below a threshold) is scored here offline from the quality rows' recorded answers.

No LLM call: the rows `reversener` (the first answer alone) and `reversener + zero-shot` (both,
merged) hold each sentence's spans, and the first answer's confidence; a policy with threshold t
takes, per sentence, the merged answer where that confidence is below t (or unknown), else the
first alone. Scored as the backend answers (regions below MIN_SCORE dropped), paired against always
asking twice, with the LLM calls per sentence.

    .venv/bin/python -m benchmarks.selective
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from reversener.evaluation import at_min_score, pick_sentences, sentences_from
from reversener.readers import read_conll

from .common import DATASETS, RESULTS, gain, machine, read_json, write_json
from .quality import DEFAULT_SAMPLE, result_path

__all__ = ["run", "THRESHOLDS"]

THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)  # 0: never a second call


def run(sample: Annotated[int, typer.Option(min=1, help="The quality rows' sample size.")] = DEFAULT_SAMPLE) -> None:
    """Score each threshold on every data set whose rows are recorded; write JSON and a table."""
    results: dict = {"sample": sample, "thresholds": list(THRESHOLDS), "sets": {}, "machine": machine()}
    for dataset in DATASETS:
        quality = read_json(result_path(dataset, sample), {})
        rows = quality.get("rows", {})
        if not {"reversener", "reversener + zero-shot"} <= rows.keys():
            continue
        gold = pick_sentences(read_conll(DATASETS[dataset]), sample=quality["sample"], seed=quality["seed"])
        first = sentences_from(gold, rows["reversener"]["per_sentence"])
        both = sentences_from(gold, rows["reversener + zero-shot"]["per_sentence"])
        confidence = rows["reversener"]["per_sentence"]["confidences"]
        always = at_min_score(gold, both)
        policies = {"always (the default)": always | {"calls_per_sentence": 2.0}}
        for threshold in THRESHOLDS:
            unsure = [c is None or c < threshold for c in confidence]
            chosen = [b if u else f for f, b, u in zip(first, both, unsure, strict=True)]
            policies[f"below {threshold}"] = at_min_score(gold, chosen) | {
                "calls_per_sentence": 1 + sum(unsure) / len(unsure)}
        for row in policies.values():
            row["gain"] = gain(always, row)
        results["sets"][dataset] = policies
    write_json(RESULTS / "selective.json", results)
    _print(results)


def _print(results: dict) -> None:
    for dataset, policies in results["sets"].items():
        table = Table(title=f"{dataset}: the zero-shot call only where the first answer is unsure")
        for column in ("second call", "LLM calls / sent.", "P", "R", "F1", "− always (95% CI)"):
            table.add_column(column, justify="right")
        for name, row in policies.items():
            table.add_row(name, f"{row['calls_per_sentence']:.2f}", f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                          f"{row['f1']:.3f}", row["gain"])
        Console(width=140).print(table)


if __name__ == "__main__":
    typer.run(run)
