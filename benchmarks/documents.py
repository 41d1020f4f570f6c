"""Quality and cost per task on documents: does packing sentences into chunks cost F1, and what does it save?

Tasks are a seeded sample of WikiGold's documents (split at -DOCSTART-), whole or as paragraphs of
about five sentences, rebuilt as text (sentences joined by a space) with exact gold offsets. Each is
predicted sentence by sentence (every sentence its own chunk, as before chunks were packed) and
packed (sentences packed into chunks of each --budgets size), zero-shot and with the default method.
A run records its predictions before names are reconciled, so it gives two rows from the same
answers: as answered, and reconciled (one label per name, RECONCILE_MENTIONS). Every row keeps its
per-task counts, so two rows are compared on the same tasks with paired bootstrap intervals.

A run goes in slices of SLICE tasks and is written after each, so a stopped run resumes where it
stopped; answers already made come from the response cache. The default method's library is built
once from the sampled tasks' text (never their labels) and kept in the results file.

    .venv/bin/python -m benchmarks.documents                                  # 30 whole documents
    .venv/bin/python -m benchmarks.documents --unit paragraph --budgets 500,1000
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from reversener.cli import progress_bars
from reversener.confidence import task_score
from reversener.config import MethodConfig
from reversener.evaluation import EvalRow, eval_library, gold_types, per_sentence
from reversener.library import ExampleLibrary
from reversener.readers import read_conll_documents
from reversener.recognizer import Recognizer
from reversener.runtime import Runtime
from reversener.settings import Settings
from reversener.text import chunk_text
from reversener.types import Sentence, Span

from .common import DATASETS, RESULTS, gain, llm_overrides, machine, read_json, write_json

__all__ = ["run", "result_path", "tasks_of", "pick_documents", "run_specs", "comparisons", "UNITS"]

UNITS = ("document", "paragraph")
MODES = {"zero-shot": "zero-shot", "default": "reversener"}  # row prefix -> recognizer mode
DEFAULT_DOCUMENTS = 30  # about 350 sentences: each run of the bundled model fits hours on 2 cores
SLICE = 5  # tasks between two writes of a run
AS_ANSWERED = " · as answered"  # the suffix of a run's row before reconciling names


def result_path(dataset: str, unit: str = "document"):
    return RESULTS / f"documents-{dataset}{'' if unit == 'document' else '-paragraphs'}.json"


def run_specs(budgets: Sequence[int]) -> dict[str, tuple[str, dict]]:
    """run name -> (mode, method settings that differ from the defaults), sentence level first."""
    specs: dict[str, tuple[str, dict]] = {}
    for prefix, mode in MODES.items():
        specs[f"{prefix} · sentences"] = (mode, {"pack_sentences": False})
        specs.update({f"{prefix} · packed {b}": (mode, {"pack_sentences": True, "max_chunk_chars": b})
                      for b in budgets})
    return specs


def tasks_of(documents: Sequence[Sequence[Sentence]], unit: str, sentences_per_paragraph: int) -> list[Sentence]:
    """The tasks: each document, or each run of about `sentences_per_paragraph` of its sentences
    (a document split evenly), as one text with its sentences joined by a space."""
    if unit not in UNITS:
        raise typer.BadParameter(f"unknown unit {unit!r}; choose from {', '.join(UNITS)}", param_hint="--unit")
    if unit == "document":
        return [_joined(document) for document in documents]
    tasks = []
    for document in documents:
        parts = max(1, round(len(document) / sentences_per_paragraph))
        bounds = [round(k * len(document) / parts) for k in range(parts + 1)]
        tasks += [_joined(document[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    return tasks


def _joined(sentences: Sequence[Sentence]) -> Sentence:
    spans, offset = [], 0
    for sentence in sentences:
        spans += [Span(s.start + offset, s.end + offset, s.label) for s in sentence.spans]
        offset += len(sentence.text) + 1
    return Sentence(" ".join(s.text for s in sentences), tuple(spans))


def pick_documents(documents: list, count: int, seed: int) -> list:
    """A seeded sample of `count` documents, in corpus order."""
    picks = np.random.default_rng(seed).choice(len(documents), size=min(count, len(documents)), replace=False)
    return [documents[i] for i in sorted(picks)]


def run(
    dataset: Annotated[str, typer.Argument(help=f"One of {', '.join(DATASETS)}.")] = "wikigold",
    unit: Annotated[str, typer.Option(help="Tasks: whole documents, or paragraphs of about "
                                           "--paragraph-sentences sentences.")] = "document",
    documents: Annotated[int, typer.Option(min=1, help="Documents in the seeded sample.")] = DEFAULT_DOCUMENTS,
    paragraph_sentences: Annotated[int, typer.Option(min=1)] = 5,
    budgets: Annotated[str, typer.Option(help="Comma-separated MAX_CHUNK_CHARS values of the packed runs.")] = str(
        MethodConfig().max_chunk_chars),
    runs: Annotated[str, typer.Option(help="Comma-separated runs, or 'all'.")] = "all",
    seed: int = 0,
    llm_model: Annotated[str | None, typer.Option(help="Any litellm model; unset = the bundled model.")] = None,
    llm_api_base: str | None = None,
    fresh: Annotated[bool, typer.Option(help="Discard a results file of another sample and start afresh.")] = False,
) -> None:
    """Run the chosen runs and merge their rows into benchmarks/results/documents-<dataset>[-paragraphs].json."""
    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    specs = run_specs(_budgets(budgets))
    names = list(specs) if runs == "all" else [r.strip() for r in runs.split(",")]
    if unknown := [n for n in names if n not in specs]:
        raise typer.BadParameter(f"unknown runs {unknown}; choose from {list(specs)}", param_hint="--runs")
    picked = pick_documents(read_conll_documents(DATASETS[dataset]), documents, seed)
    tasks = tasks_of(picked, unit, paragraph_sentences)
    path = result_path(dataset, unit)
    results = _results(path, {"dataset": dataset, "unit": unit, "documents": documents, "seed": seed,
                              "paragraph_sentences": paragraph_sentences}, fresh)
    results.update(tasks=len(tasks), gold_entities=sum(len(t.spans) for t in tasks),
                   chars_per_task=float(np.mean([len(t.text) for t in tasks])))
    settings = Settings(**llm_overrides(llm_model, llm_api_base))
    runtime = Runtime(settings)
    try:
        with progress_bars() as bar:
            for name in names:
                _run(name, specs[name], tasks, runtime, settings, results, bar, lambda: write_json(path, results))
    finally:
        runtime.close()
    print_table(results)


def _budgets(text: str) -> list[int]:
    try:
        values = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 100:
        raise typer.BadParameter(f"{text!r}: give whole numbers of at least 100, comma-separated",
                                 param_hint="--budgets")
    return values


def _results(path, selection: dict, fresh: bool) -> dict:
    """The results file's content for this sample; another sample's is refused unless `fresh`."""
    results = read_json(path, {})
    if results and results.get("selection") != selection:
        if not fresh:
            raise typer.BadParameter(f"{path} holds another sample ({results.get('selection')}); run with the same "
                                     "options, or with --fresh to discard it")
        results = {}
    results["selection"] = selection
    results.setdefault("runs", {})
    results.setdefault("rows", {})
    return results


def _config(settings: Settings, overrides: dict, reconciled: bool) -> MethodConfig:
    return settings.method().model_copy(update=overrides | {"reconcile_mentions": reconciled})


def _run(name: str, spec: tuple[str, dict], tasks: list[Sentence], runtime: Runtime, settings: Settings,
         results: dict, bar, save) -> None:
    """Finish one run from where its record stopped, saving after every slice, then write its rows."""
    mode, overrides = spec
    model = runtime.llm.model
    record = results["runs"].get(name)
    if record and record["model"] == model and record["done"] == len(tasks) and name in results["rows"]:
        return
    if not record or record["model"] != model:
        record = results["runs"][name] = {"model": model, "mode": mode, "settings": overrides, "done": 0,
                                          "wall_seconds": 0.0, "stats": {}, "per_task": {}}
    library = _library(tasks, runtime, settings, results, bar, save) if mode == "reversener" else None
    recognizer = Recognizer(runtime.llm, runtime.embedder, gold_types(tasks), library,
                            _config(settings, overrides, reconciled=False))
    advance = bar(name, len(tasks))
    advance(record["done"])
    while record["done"] < len(tasks):
        started, before = time.monotonic(), runtime.llm.stats.snapshot()
        piece = tasks[record["done"] : record["done"] + SLICE]
        for key, values in per_sentence(recognizer.recognize([t.text for t in piece], advance)).items():
            record["per_task"].setdefault(key, []).extend(values)
        record["done"] += len(piece)
        _add(record, runtime.llm.stats.since(before), time.monotonic() - started)
        save()
    build = results.get("build") if library is not None else None
    results["rows"] |= _rows(name, record, tasks, runtime, settings, build)
    save()


def _library(tasks, runtime: Runtime, settings: Settings, results: dict, bar, save) -> ExampleLibrary:
    """The default method's library: built from the tasks' text once, then read from the results."""
    if "library" not in results:
        library, results["build"] = eval_library(tasks, runtime.llm, runtime.embedder, settings.method(),
                                                 progress=bar)
        results["library"] = library.to_dict()
        save()
    return ExampleLibrary.from_dict(results["library"])


def _add(record: dict, stats: dict[str, float], seconds: float) -> None:
    for key, value in stats.items():
        record["stats"][key] = record["stats"].get(key, 0) + value
    record["wall_seconds"] += seconds


def _rows(name: str, record: dict, tasks: list[Sentence], runtime: Runtime, settings: Settings,
          build: dict | None) -> dict[str, dict]:
    """A finished run's two rows: as answered, and with names reconciled over each task."""
    settle = Recognizer(runtime.llm, runtime.embedder, gold_types(tasks), None,
                        _config(settings, record["settings"], reconciled=True))
    config = settle.config
    chunks = float(np.mean([len(chunk_text(t.text, config.max_chunk_chars, config.pack_sentences)) for t in tasks]))
    common = {"run": name, "model": record["model"], "settings": record["settings"], "chunks_per_task": chunks,
              "machine": machine()}
    rows = {}
    for row_name, reconciled in ((name, True), (name + AS_ANSWERED, False)):
        kept = _settled(settle, tasks, record["per_task"]) if reconciled else record["per_task"]
        row = EvalRow.of(record["mode"], tasks, kept, record["stats"], record["wall_seconds"], build).as_dict()
        for key in ("per_sentence", "at_min_score"):  # the run keeps the predictions; rows keep the counts
            row.pop(key)
        row["cost"] = {key.replace("_per_sentence", "_per_task"): value for key, value in row["cost"].items()}
        rows[row_name] = row | common | {"reconciled": reconciled}
    return rows


def _settled(recognizer: Recognizer, tasks: list[Sentence], recorded: dict) -> dict:
    """A run's per-task record with each task's names settled as the recognizer settles them."""
    out = {key: list(values) for key, values in recorded.items()}
    for i, task in enumerate(tasks):
        if recorded["errors"][i]:
            continue
        spans = recognizer.settled(task.text, [Span(*row) for row in recorded["spans"][i]])
        out["spans"][i] = [[s.start, s.end, s.label, s.score] for s in spans]
        out["answer_scores"][i] = task_score(recorded["confidences"][i], spans)
    return out


def comparisons(rows: dict) -> list[tuple[str, dict, dict]]:
    """(what, before, after) pairs measured on the same tasks: packed − sentence level (both
    reconciled), reconciled − as answered, and the default method now − as it was."""
    pairs = []
    for prefix in MODES:
        base = rows.get(f"{prefix} · sentences")
        for name, row in rows.items():
            if name.startswith(f"{prefix} · packed") and not name.endswith(AS_ANSWERED) and base:
                pairs.append((f"{name} − sentences", base, row))
    pairs += [(f"{name}: reconciled − as answered", rows[name + AS_ANSWERED], row)
              for name, row in rows.items() if name + AS_ANSWERED in rows]
    before = rows.get(f"default · sentences{AS_ANSWERED}")
    pairs += [(f"{name} − default · sentences, as answered (before packing and reconciling)", before, row)
              for name, row in rows.items() if before and name.startswith("default · packed")
              and not name.endswith(AS_ANSWERED)]
    return pairs


def print_table(results: dict) -> None:
    s = results["selection"]
    table = Table(title=f"{s['dataset']}: {results['tasks']} tasks ({s['unit']}s of {s['documents']} documents, "
                        f"seed {s['seed']}), {results['gold_entities']} gold entities")
    for column in ("row", "P", "R", "F1", "95% CI", "chunks/task", "calls/task", "prompt tok/task", "LLM s/task"):
        table.add_column(column, justify="left" if column == "row" else "right")
    for name, r in results["rows"].items():
        c = r["cost"]
        table.add_row(name, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                      f"{r['f1_interval'][0]:.3f}-{r['f1_interval'][1]:.3f}", f"{r['chunks_per_task']:.1f}",
                      f"{c['calls_per_task']:.1f}", f"{c['prompt_tokens_per_task']:.0f}",
                      f"{c['llm_seconds_per_task']:.1f}")
    console = Console(width=160)
    console.print(table)
    for what, before, after in comparisons(results["rows"]):
        console.print(f"{what}: {gain(before, after)} F1 points")


if __name__ == "__main__":
    typer.run(run)
