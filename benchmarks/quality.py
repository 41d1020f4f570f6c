"""Quality against the paper's claim: zero-shot vs ReverseNER, self-consistency and ablations.

Every row scores the same seeded sample of sentences with the same LLM (the bundled model unless
--llm-model names another). A row runs in slices of CHUNK sentences and is written after each, with
its library, so a stopped run resumes where it stopped (on another day too: the partial row is in
the results file); finished rows keep every sentence's predictions for error analysis.
300 sentences is the decision setting (about an hour per row on 2 cores), 50 the smoke setting.

    .venv/bin/python -m benchmarks.quality wikigold --rows zero-shot,reversener   # 300 sentences
    .venv/bin/python -m benchmarks.quality wnut17 --sample 50                     # every row, smoke
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from reversener.cli import progress_bars
from reversener.confidence import above
from reversener.config import MethodConfig
from reversener.evaluation import (
    EvalRow,
    at_min_score,
    compose,
    eval_library,
    gold_types,
    per_sentence,
    pick_sentences,
    replay,
    sentences_from,
)
from reversener.library import ExampleLibrary
from reversener.llm.client import LLMReply, LLMStats
from reversener.readers import read_conll
from reversener.recognizer import Recognizer
from reversener.runtime import Runtime
from reversener.settings import Settings
from reversener.types import Sentence

from .common import DATASETS, RESULTS, figure, gain, llm_overrides, machine, read_json, write_json

PAPER = {"combine_zero_shot": False}  # ReverseNER as the paper has it: only the answer with demonstrations

# row -> (mode, method settings that differ from the defaults). The ablations change one part of the
# paper's method; the last row is the default method (docs/method.md, Where the demonstrations help, says why).
ROWS: dict[str, tuple[str, dict]] = {
    "zero-shot": ("zero-shot", {}),
    "zero-shot + SC": ("zero-shot", {"samples": 3}),
    "reversener": ("reversener", PAPER),
    "reversener + SC": ("reversener", PAPER | {"samples": 3}),
    "random features": ("reversener", PAPER | {"feature_strategy": "random"}),
    "random demos": ("reversener", PAPER | {"demo_strategy": "random"}),
    "verified templates": ("reversener", PAPER | {"verify_templates": True}),
    "reversener + zero-shot": ("reversener", {"combine_zero_shot": True}),
}
DEFAULT_ROW = "reversener + zero-shot"
# Rows whose requests per sentence are exactly those of other rows, in the recognizer's order: built
# from those rows' recorded answers (see `reversener.evaluation.compose`) unless --no-compose.
COMPOSED = {"reversener + zero-shot": ("reversener", "zero-shot")}
DEFAULT_SAMPLE = 300  # decides a difference of a few F1 points; 50 is the smoke setting
SMOKE_SAMPLE = 50
CHUNK = 25  # sentences between two writes of a partial row


def result_path(dataset: str, sample: int = DEFAULT_SAMPLE):
    return RESULTS / f"quality-{dataset}-{sample}.json"


def recorded_answers(sample: int) -> Iterator[tuple[str, dict, list[Sentence], list[Sentence]]]:
    """For each data set whose default row is recorded at `sample`: its name, its results, the gold
    sentences and the row's recorded answers as the backend serves them (regions below MIN_SCORE
    dropped), for the benchmarks that replay what corrections would teach without asking the LLM."""
    min_score = MethodConfig().min_score
    for dataset in DATASETS:
        quality = read_json(result_path(dataset, sample), {})
        if DEFAULT_ROW not in quality.get("rows", {}):
            continue
        gold = pick_sentences(read_conll(DATASETS[dataset]), sample=quality["sample"], seed=quality["seed"])
        answers = sentences_from(gold, quality["rows"][DEFAULT_ROW]["per_sentence"])
        yield dataset, quality, gold, [Sentence(a.text, tuple(above(a.spans, min_score))) for a in answers]


def samples_run(dataset: str) -> list[int]:
    """The sample sizes a data set has a results file for, largest first."""
    sizes = (path.stem.rsplit("-", 1)[1] for path in RESULTS.glob(f"quality-{dataset}-*.json"))
    return sorted((int(size) for size in sizes if size.isdigit()), reverse=True)


def run(
    dataset: Annotated[str, typer.Argument(help=f"One of {', '.join(DATASETS)}.")],
    rows: Annotated[str, typer.Option(help="Comma-separated rows, or 'all'.")] = "all",
    sample: Annotated[int, typer.Option(min=1, help="Sentences in the seeded random sample.")] = DEFAULT_SAMPLE,
    seed: int = 0,
    llm_model: Annotated[str | None, typer.Option(help="Any litellm model; unset = the bundled model.")] = None,
    llm_api_base: str | None = None,
    force: Annotated[bool, typer.Option(help="Rerun rows already in the results file.")] = False,
    rescore: Annotated[bool, typer.Option(help="Read finished rows again from the cached answers to their recorded "
                                               "requests (no LLM calls), after a change to parsing, scoring or "
                                               "metrics.")] = False,
    check_retrieval: Annotated[bool, typer.Option(help="Recompute finished rows' demonstrations with the current "
                                                       "embedder and retrieval (no LLM calls) and count the sentences "
                                                       "shown others than recorded.")] = False,
    compose: Annotated[bool, typer.Option(help="Build a row that only merges other rows' requests from those "
                                               "finished rows (no LLM calls) instead of asking again.")] = True,
) -> None:
    """Score the chosen rows and merge them into benchmarks/results/quality-<dataset>-<sample>.json."""
    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    names = list(ROWS) if rows == "all" else [r.strip() for r in rows.split(",")]
    if unknown := [n for n in names if n not in ROWS]:
        raise typer.BadParameter(f"unknown rows {unknown}; choose from {list(ROWS)}", param_hint="--rows")
    gold = pick_sentences(read_conll(DATASETS[dataset]), sample=sample, seed=seed)
    path = result_path(dataset, sample)
    results = read_json(path, {})
    settings = Settings(**llm_overrides(llm_model, llm_api_base))
    runtime = Runtime(settings)
    if check_retrieval or rescore:  # finished rows, read again without LLM calls
        try:
            for name in names:
                if name in results.get("rows", {}):
                    (_check_retrieval if check_retrieval else _rescore)(name, results["rows"][name], gold, runtime,
                                                                        settings)
        finally:
            runtime.close()
        if check_retrieval:
            return
        write_json(path, results)
        print_table(results)
        plot(sample)
        plot_calibration(sample)
        return
    results = results if results.get("seed") == seed else {}
    results.update(dataset=dataset, sample=sample, seed=seed, gold_entities=sum(len(g.spans) for g in gold))
    results.setdefault("rows", {})
    results.setdefault("partial", {})
    model = runtime.llm.model
    try:
        with progress_bars() as bar:
            for name in names:
                if name in results["rows"] and not force and results["rows"][name]["model"] == model:
                    continue
                if compose and (parts := _parts(name, results["rows"], model)):
                    results["rows"][name] = _compose_row(name, gold, runtime, settings, parts)
                    write_json(path, results)
                    continue
                part = results["partial"].get(name)
                if force or not part or part["model"] != model:
                    part = results["partial"][name] = {"model": model, "done": 0, "wall_seconds": 0.0, "stats": {}}
                results["rows"][name] = _run_row(name, gold, runtime, settings, part, bar,
                                                 lambda: write_json(path, results), results["rows"])
                del results["partial"][name]
                write_json(path, results)  # each finished row is kept, whatever happens to the next
    finally:
        runtime.close()
    print_table(results)
    plot(sample)
    plot_calibration(sample)


# Rows keep every entity, whatever MIN_SCORE says: each threshold is then read from the same row
# (its calibration: P/R/F1 by threshold) instead of a row per threshold.
ROW_BASE = {"min_score": 0.0}


def _row_config(settings: Settings, name: str):
    """The method settings of a row: the defaults, every entity kept, with the row's own changes."""
    return settings.method().model_copy(update=ROW_BASE | ROWS[name][1])


def _same_library(name: str, settings: Settings, rows_done: dict) -> dict | None:
    """A finished row whose library was built with the same build settings, if any."""
    def build_of(row_name: str) -> dict:
        return _row_config(settings, row_name).build_settings()

    for other, row in rows_done.items():
        if (other != name and other in ROWS and "library" in row and row.get("build")
                and build_of(other) == build_of(name)):
            return row
    return None


def _run_row(name, gold, runtime, settings, part: dict, bar, save, rows_done: dict) -> dict:
    """Finish one row from where its partial record stopped, saving after every slice."""
    mode, overrides = ROWS[name]
    config = _row_config(settings, name)
    llm, embedder = runtime.llm, runtime.embedder
    library = None
    if mode == "reversener":
        if "library" not in part and (shared := _same_library(name, settings, rows_done)):
            part["library"], part["build"] = shared["library"], shared["build"]
        if "library" not in part:
            started, before = time.monotonic(), llm.stats.snapshot()
            library, part["build"] = eval_library(gold, llm, embedder, config, progress=bar)
            part["library"] = library.to_dict()
            _add(part, llm.stats.since(before), time.monotonic() - started)
            save()
        library = ExampleLibrary.from_dict(part["library"])
    recognizer = Recognizer(llm, embedder, gold_types(gold), library, config)
    advance = bar(name, len(gold))
    advance(part["done"])
    while part["done"] < len(gold):
        started, before = time.monotonic(), llm.stats.snapshot()
        piece = gold[part["done"] : part["done"] + CHUNK]
        found = per_sentence(recognizer.recognize([g.text for g in piece], advance))
        recorded = part.setdefault("per_sentence", {key: [] for key in found})
        for key, values in found.items():
            recorded[key].extend(values)
        part["done"] += len(piece)
        _add(part, llm.stats.since(before), time.monotonic() - started)
        save()
    row = EvalRow.of(mode, gold, part["per_sentence"], part["stats"], part["wall_seconds"], part.get("build"))
    extra = {"library": part["library"]} if "library" in part else {}
    return row.as_dict() | extra | {"model": part["model"], "settings": overrides, "machine": machine()}


def _parts(name: str, rows_done: dict, model: str) -> list[dict] | None:
    """The finished rows a composed row is built from, if all are there for this model."""
    parts = [rows_done.get(part) for part in COMPOSED.get(name, ())]
    if parts and all(p and "per_sentence" in p and p["model"] == model for p in parts):
        return parts
    return None


def _compose_row(name, gold, runtime, settings, parts: list[dict]) -> dict:
    """A composed row: its sentences merged from the parts', its cost their sum. Its `at_min_score`
    is merged again with the default MIN_SCORE, which the recognizer applies to each answer first."""
    def merged(config) -> dict:
        recognizer = Recognizer(runtime.llm, runtime.embedder, gold_types(gold), None, config)
        return compose(recognizer, [p["per_sentence"] for p in parts], [g.text for g in gold])

    build = next((p["build"] for p in parts if p.get("build")), None)
    row = EvalRow.of(ROWS[name][0], gold, merged(_row_config(settings, name)), LLMStats().snapshot(),
                     sum(p["wall_seconds"] for p in parts), build)
    default = settings.method().model_copy(update=ROWS[name][1])
    row.at_min_score = at_min_score(gold, sentences_from(gold, merged(default)), default.min_score)
    extra = next(({"library": p["library"]} for p in parts if "library" in p), {})
    summed = {key: sum(p["cost"][key] for p in parts) for key in parts[0]["cost"]}
    return row.as_dict() | extra | {"cost": summed, "composed_from": list(COMPOSED[name]), "model": parts[0]["model"],
                                    "settings": ROWS[name][1], "machine": machine()}


def _rescore(name: str, row: dict, gold, runtime: Runtime, settings: Settings) -> None:
    """A finished row read again from the cached answers to its recorded requests (current parser
    and scorer), then scored; its measured cost stays."""
    if name not in ROWS or "per_sentence" not in row:
        return
    config = _row_config(settings, name)
    library = ExampleLibrary.from_dict(row["library"]) if "library" in row else None
    recognizer = Recognizer(runtime.llm, runtime.embedder, gold_types(gold), library, config)
    recorded, replayed = replay(recognizer, library, gold, row["per_sentence"], runtime.llm.cached)
    fresh = EvalRow.of(row["mode"], gold, recorded, LLMStats().snapshot(), row["wall_seconds"], row["build"])
    row |= fresh.as_dict() | {"cost": row["cost"], "replayed": replayed}
    print(f"{name}: {replayed} of {len(gold)} sentences read again from the cache")


def _check_retrieval(name: str, row: dict, gold, runtime: Runtime, settings: Settings) -> int:
    """How many sentences the current code shows other demonstrations (or in another order) than the
    row recorded: the row's slices run through the recognizer again, against an LLM that answers
    nothing, so chunking, batching and retrieval are exactly a run's."""
    if "library" not in row or "per_sentence" not in row:
        return 0
    library = ExampleLibrary.from_dict(row["library"])
    recognizer = Recognizer(_Silent(), runtime.embedder, gold_types(gold), library, _row_config(settings, name))
    texts = [g.text for g in gold]
    shown = [list(p.demonstrations)
             for k in range(0, len(texts), CHUNK) for p in recognizer.recognize(texts[k : k + CHUNK])]
    differ = sum(now != list(then) for now, then in zip(shown, row["per_sentence"]["demonstrations"], strict=True))
    print(f"{name}: {len(texts) - differ} of {len(texts)} sentences shown the recorded demonstrations in their order")
    return differ


class _Silent:
    """An LLM that finds nothing, at once."""

    stats = LLMStats()

    def complete(self, requests, progress=None):
        return [LLMReply.of('{"entities": []}') for _ in requests]


def _add(part: dict, stats: dict[str, float], seconds: float) -> None:
    for key, value in stats.items():
        part["stats"][key] = part["stats"].get(key, 0) + value
    part["wall_seconds"] += seconds


def print_table(results: dict) -> None:
    table = Table(title=f"{results['dataset']}: {results['sample']} sentences (seed {results['seed']}), "
                        f"{results['gold_entities']} gold entities")
    for column in ("row", "P", "R", "F1", "95% CI", "vs zero-shot (95% CI)", "calls/sent", "prompt tok/sent",
                   "compl tok/sent", "wall min"):
        table.add_column(column, justify="left" if column == "row" else "right")
    zero = results["rows"].get("zero-shot")
    for name in ROWS:
        if r := results["rows"].get(name):
            c = r["cost"]
            table.add_row(name, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                          f"{r['f1_interval'][0]:.3f}-{r['f1_interval'][1]:.3f}", gain(zero, r) if zero else "",
                          f"{c['calls_per_sentence']:.2f}",
                          f"{c['prompt_tokens_per_sentence']:.0f}", f"{c['completion_tokens_per_sentence']:.0f}",
                          f"{r['wall_seconds'] / 60:.1f}")
    Console(width=160).print(table)


def _figure_path(name: str, sample: int):
    return RESULTS / (f"{name}.png" if sample == DEFAULT_SAMPLE else f"{name}-{sample}.png")


def plot(sample: int = DEFAULT_SAMPLE) -> None:
    """One panel per dataset: micro-F1 of each row with its bootstrap 95% interval."""
    done = {d: read_json(result_path(d, sample)) for d in DATASETS if result_path(d, sample).exists()}
    done = {d: results for d, results in done.items() if results.get("rows")}
    if not done:
        return
    with figure(_figure_path("quality", sample), len(done), (5.5 * len(done), 3.8)) as axes:
        for ax, (dataset, results) in zip(axes, done.items(), strict=True):
            names = [n for n in ROWS if n in results["rows"]]
            f1 = [results["rows"][n]["f1"] for n in names]
            low = [f - results["rows"][n]["f1_interval"][0] for n, f in zip(names, f1, strict=True)]
            high = [results["rows"][n]["f1_interval"][1] - f for n, f in zip(names, f1, strict=True)]
            colors = ["#999999" if n.startswith("zero-shot") else "#3b75af" for n in names]
            ax.barh(names[::-1], f1[::-1], xerr=[low[::-1], high[::-1]], color=colors[::-1], capsize=3)
            ax.set_xlim(0, 1)
            ax.set_xlabel("strict micro-F1 (95% bootstrap CI)")
            ax.set_title(f"{dataset}, {results['sample']} sentences")



def plot_calibration(sample: int = DEFAULT_SAMPLE) -> None:
    """Reliability diagrams: share of regions correct against their mean score, per score bin."""
    rows = {d: (read_json(result_path(d, sample)) or {}).get("rows", {}) for d in DATASETS}
    curves = {(d, n): r[n]["calibration"]["reliability"] for d, r in rows.items()
              for n in ("zero-shot", "reversener", DEFAULT_ROW)
              if r.get(n, {}).get("calibration", {}).get("reliability")}
    if not curves:
        return
    with figure(_figure_path("calibration", sample), 1, (5.5, 4.2)) as (ax,):
        ax.plot([0, 1], [0, 1], color="#bbbbbb", linestyle=":", label="perfectly calibrated")
        for (dataset, name), table in curves.items():
            ax.plot([b["mean_score"] for b in table], [b["correct"] for b in table],
                    "s--" if name == "zero-shot" else "o-", label=f"{dataset}, {name}", markersize=4)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("region score (mean per bin of 0.1)")
        ax.set_ylabel("share of regions correct")
        ax.legend(fontsize=7)


if __name__ == "__main__":
    typer.run(run)
