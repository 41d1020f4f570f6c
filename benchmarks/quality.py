"""Quality against the paper's claim: zero-shot vs ReverseNER, self-consistency and ablations.

Every row scores the same seeded sample of sentences with the same LLM (the bundled model unless
--llm-model names another). Rows are cached in the results JSON and the LLM's answers in its
response cache, so rows can run as separate commands and a rerun is fast.

    .venv/bin/python -m benchmarks.quality wikigold                # every row
    .venv/bin/python -m benchmarks.quality wnut17 --rows zero-shot,reversener
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from reversener.cli import progress_bars
from reversener.evaluation import pick_sentences, run_mode
from reversener.readers import read_conll
from reversener.runtime import Runtime
from reversener.settings import Settings

from .common import DATASETS, RESULTS, figure, llm_overrides, machine, read_json, write_json

# row -> (mode, method settings that differ from the defaults)
ROWS: dict[str, tuple[str, dict]] = {
    "zero-shot": ("zero-shot", {}),
    "zero-shot + SC": ("zero-shot", {"samples": 3}),
    "reversener": ("reversener", {}),
    "reversener + SC": ("reversener", {"samples": 3}),
    "random features": ("reversener", {"feature_strategy": "random"}),
    "random demos": ("reversener", {"demo_strategy": "random"}),
}
DEFAULT_SAMPLE = 50  # with the bundled model on 2 cores, the slowest row (reversener + SC) takes ~25 min


def result_path(dataset: str):
    return RESULTS / f"quality-{dataset}.json"


def run(
    dataset: Annotated[str, typer.Argument(help=f"One of {', '.join(DATASETS)}.")],
    rows: Annotated[str, typer.Option(help="Comma-separated rows, or 'all'.")] = "all",
    sample: Annotated[int, typer.Option(min=1, help="Sentences in the seeded random sample.")] = DEFAULT_SAMPLE,
    seed: int = 0,
    llm_model: Annotated[Optional[str], typer.Option(help="Any litellm model; unset = the bundled model.")] = None,
    llm_api_base: Optional[str] = None,
    force: Annotated[bool, typer.Option(help="Rerun rows already in the results file.")] = False,
) -> None:
    """Score the chosen rows and merge them into benchmarks/results/quality-<dataset>.json."""
    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    names = list(ROWS) if rows == "all" else [r.strip() for r in rows.split(",")]
    if unknown := [n for n in names if n not in ROWS]:
        raise typer.BadParameter(f"unknown rows {unknown}; choose from {list(ROWS)}", param_hint="--rows")
    settings = Settings(**llm_overrides(llm_model, llm_api_base))
    runtime = Runtime(settings)
    gold = pick_sentences(read_conll(DATASETS[dataset]), sample=sample, seed=seed)
    path = result_path(dataset)
    results = read_json(path, {})
    same_setup = results.get("sample") == sample and results.get("seed") == seed
    results = results if same_setup else {}
    results.update(dataset=dataset, sample=sample, seed=seed, gold_entities=sum(len(g.spans) for g in gold))
    results.setdefault("rows", {})
    try:
        with progress_bars() as bar:
            for name in names:
                if name in results["rows"] and not force and results["rows"][name]["model"] == runtime.llm.model:
                    continue
                mode, overrides = ROWS[name]
                config = settings.method().model_copy(update=overrides)
                row, _ = run_mode(mode, gold, runtime.llm, runtime.embedder, config, progress=bar)
                results["rows"][name] = row.as_dict() | {"model": runtime.llm.model, "settings": overrides,
                                                         "machine": machine()}
                write_json(path, results)  # each finished row is kept, whatever happens to the next
    finally:
        runtime.close()
    print_table(results)
    plot()


def print_table(results: dict) -> None:
    table = Table(title=f"{results['dataset']}: {results['sample']} sentences (seed {results['seed']}), "
                        f"{results['gold_entities']} gold entities")
    for column in ("row", "P", "R", "F1", "95% CI", "calls/sent", "prompt tok/sent", "compl tok/sent", "wall min"):
        table.add_column(column, justify="left" if column == "row" else "right")
    for name in ROWS:
        if r := results["rows"].get(name):
            c = r["cost"]
            table.add_row(name, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                          f"{r['f1_interval'][0]:.3f}-{r['f1_interval'][1]:.3f}", f"{c['calls_per_sentence']:.2f}",
                          f"{c['prompt_tokens_per_sentence']:.0f}", f"{c['completion_tokens_per_sentence']:.0f}",
                          f"{r['wall_seconds'] / 60:.1f}")
    Console(width=160).print(table)


def plot() -> None:
    """One panel per dataset: micro-F1 of each row with its bootstrap 95% interval."""
    done = {d: read_json(result_path(d)) for d in DATASETS if result_path(d).exists()}
    if not done:
        return
    with figure(RESULTS / "quality.png", len(done), (5.5 * len(done), 3.8)) as axes:
        for ax, (dataset, results) in zip(axes, done.items()):
            names = [n for n in ROWS if n in results["rows"]]
            f1 = [results["rows"][n]["f1"] for n in names]
            low = [f - results["rows"][n]["f1_interval"][0] for n, f in zip(names, f1)]
            high = [results["rows"][n]["f1_interval"][1] - f for n, f in zip(names, f1)]
            colors = ["#999999" if n.startswith("zero-shot") else "#3b75af" for n in names]
            ax.barh(names[::-1], f1[::-1], xerr=[low[::-1], high[::-1]], color=colors[::-1], capsize=3)
            ax.set_xlim(0, 1)
            ax.set_xlabel("strict micro-F1 (95% bootstrap CI)")
            ax.set_title(f"{dataset}, {results['sample']} sentences")


if __name__ == "__main__":
    typer.run(run)
