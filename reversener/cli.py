"""The `reversener` command: build a library, annotate files for Label Studio, evaluate, manage libraries."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .builder import build_library
from .definitions import resolve_types
from .errors import ReverseNERError
from .evaluation import pick_sentences, run_mode
from .labelstudio import prediction, spans_from_results, to_results
from .library import ExampleLibrary
from .llm.local import LOCAL_ALIAS, ensure_bundled_model, server_command
from .readers import read_conll, read_tasks
from .recognizer import Recognizer
from .runtime import Runtime
from .settings import Settings
from .types import Example

app = typer.Typer(help="Zero-shot NER with ReverseNER, for Label Studio.", no_args_is_help=True)
library_app = typer.Typer(help="Inspect, export and import example libraries.", no_args_is_help=True)
app.add_typer(library_app, name="library")
console = Console(stderr=True)

TypesOpt = Annotated[str, typer.Option("--types", "-t", help="Comma-separated entity types.")]
EXISTING = {"exists": True, "dir_okay": False, "readable": True}  # typer says what is wrong, not a traceback
DefsOpt = Annotated[Path | None, typer.Option(help="JSON file mapping type -> definition.", **EXISTING)]
SamplesOpt = Annotated[int | None, typer.Option(help="Self-consistency samples (env SAMPLES).")]
DemosOpt = Annotated[int | None, typer.Option(help="Demonstrations per text (env DEMONSTRATIONS).")]
PartialOpt = Annotated[bool, typer.Option(help="Exit 0 even when some tasks failed (they get no prediction).")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _types(types: str, definitions: Path | None) -> dict[str, str]:
    names = [t.strip() for t in types.split(",") if t.strip()]
    if not names:
        raise typer.BadParameter("give at least one entity type", param_hint="--types")
    return resolve_types(names, _definitions(definitions))


def _definitions(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        overrides = json.loads(path.read_text("utf-8"))
    except ValueError as err:
        raise typer.BadParameter(f"{path} is not JSON: {err}", param_hint="--definitions") from err
    if not isinstance(overrides, dict):
        raise typer.BadParameter(f"{path} must map each type to its definition", param_hint="--definitions")
    return overrides


def _runtime(**overrides) -> Runtime:
    return Runtime(Settings(**{k: v for k, v in overrides.items() if v is not None}))


@contextmanager
def progress_bars():
    """A factory of progress bars: `bar(description, total)` returns an advance callback."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        def bar(description: str, total: int):
            task = progress.add_task(description, total=total)
            return lambda n=1: progress.advance(task, n)
        yield bar


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")


def _texts(path: Path, text_key: str) -> tuple[list[dict], list[str]]:
    tasks = read_tasks(path, text_key)
    return tasks, [t["data"][text_key] for t in tasks]


@app.command("build-library")
def build_library_cmd(
    input: Annotated[Path, typer.Argument(help="Tasks: Label Studio JSON, JSONL or plain text.", **EXISTING)],
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("library.json"),
    types: TypesOpt = "PER,ORG,LOC,MISC",
    definitions: DefsOpt = None,
    text_key: str = "text",
) -> None:
    """Build an example library from unlabeled task texts."""
    _check_writable(output)
    runtime = _runtime()
    _, texts = _texts(input, text_key)
    with progress_bars() as bar:
        library, report = build_library(texts, _types(types, definitions), runtime.llm, runtime.embedder,
                                        runtime.settings.method(), on_step=bar)
    library.save(output)
    console.print(f"{report.kept} of {report.planned} examples kept (rejected: {dict(report.rejected)}); "
                  f"library {library.version} -> {output}")


@app.command()
def annotate(
    input: Annotated[Path, typer.Argument(help="Tasks: Label Studio JSON, JSONL or plain text.", **EXISTING)],
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("predictions.json"),
    library: Annotated[Path | None, typer.Option(help="A library file; else one is built from INPUT.")] = None,
    zero_shot: Annotated[bool, typer.Option(help="No demonstrations: the baseline.")] = False,
    allow_partial: PartialOpt = False,
    types: TypesOpt = "PER,ORG,LOC,MISC",
    definitions: DefsOpt = None,
    text_key: str = "text",
    from_name: str = "label",
    to_name: str = "text",
    samples: SamplesOpt = None,
    demonstrations: DemosOpt = None,
) -> None:
    """Pre-annotate tasks; writes Label Studio tasks with predictions, ready to import. A task whose
    LLM calls failed gets no prediction; the exit code is 1 then, unless --allow-partial."""
    _check_writable(output)
    runtime = _runtime(samples=samples, demonstrations=demonstrations)
    tasks, texts = _texts(input, text_key)
    entity_types = _types(types, definitions)
    with progress_bars() as bar:
        lib = None
        if library is not None:
            lib = ExampleLibrary.load(library)
        elif not zero_shot:
            lib, report = build_library(texts, entity_types, runtime.llm, runtime.embedder,
                                        runtime.settings.method(), on_step=bar)
            if report.llm_failures:
                console.print(f"[yellow]warning:[/yellow] library build: {report.llm_failures} LLM calls failed "
                              f"({report.llm_error}); {report.kept} examples kept")
        recognizer = Recognizer(runtime.llm, runtime.embedder, entity_types, None if zero_shot else lib,
                                runtime.settings.method())
        predictions = recognizer.recognize(texts, bar("annotate", len(texts)))
    version = "zero-shot" if recognizer.zero_shot or lib is None else f"reversener-{lib.version}"
    failed = []
    for index, (task, found) in enumerate(zip(tasks, predictions, strict=True)):
        name = task.get("id", index + 1)
        for problem in found.problems:
            console.print(f"[yellow]task {name}:[/yellow] {problem}")
        if found.error:
            failed.append(name)
            console.print(f"[red]task {name}: no prediction:[/red] {found.error}")
            continue
        task["predictions"] = [prediction(to_results(found.text, found.spans, from_name, to_name), version,
                                          found.score)]
    _write_json(output, tasks)
    spans = sum(len(p.spans) for p in predictions if not p.error)
    console.print(f"{len(tasks) - len(failed)} of {len(tasks)} tasks predicted, {spans} entities ({version}) "
                  f"-> {output}")
    if failed:
        shown = ", ".join(map(str, failed[:20])) + (" ..." if len(failed) > 20 else "")
        console.print(f"[red]{len(failed)} tasks failed and have no prediction:[/red] {shown}")
        if not allow_partial:
            raise typer.Exit(1)


def _check_writable(path: Path) -> None:
    """Fail before any LLM work, not after it, when the output cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=True):
            pass
    except OSError as err:
        raise typer.BadParameter(f"cannot write {path}: {err.strerror or err}", param_hint="--output") from err
    if path.is_dir() or (path.exists() and not os.access(path, os.W_OK)):
        raise typer.BadParameter(f"cannot write {path}", param_hint="--output")


@app.command("eval")
def eval_cmd(
    conll: Annotated[Path, typer.Argument(help="Gold data in CoNLL format (IOB1 or IOB2).", **EXISTING)],
    limit: Annotated[int | None, typer.Option(help="Use the first N sentences.")] = None,
    sample: Annotated[int | None, typer.Option(help="Use a seeded random sample of N sentences.")] = None,
    offset: int = 0,
    seed: int = 0,
    mode: Annotated[str, typer.Option(help="zero-shot, reversener or both.")] = "both",
    definitions: DefsOpt = None,
    samples: SamplesOpt = None,
    demonstrations: DemosOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write rows as JSON.")] = None,
) -> None:
    """Score zero-shot and ReverseNER on gold data: strict micro-F1 and LLM cost per sentence."""
    if output:
        _check_writable(output)
    runtime = _runtime(samples=samples, demonstrations=demonstrations)
    gold = pick_sentences(read_conll(conll), limit=limit, sample=sample, seed=seed, offset=offset)
    modes = ["zero-shot", "reversener"] if mode == "both" else [mode]
    overrides = _definitions(definitions)
    rows = []
    with progress_bars() as bar:
        for name in modes:
            row, _ = run_mode(name, gold, runtime.llm, runtime.embedder, runtime.settings.method(),
                              definitions=overrides, progress=bar)
            rows.append(row)
    _print_rows(rows, runtime.llm.model)
    if output:
        _write_json(output, [r.as_dict() for r in rows])


def _print_rows(rows, model: str) -> None:
    table = Table(title=f"{rows[0].sentences} sentences, {model}")
    for column in ("mode", "P", "R", "F1", "F1 95% CI", "calls/sent", "wall s"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for r in rows:
        table.add_row(r.mode, f"{r.precision:.3f}", f"{r.recall:.3f}", f"{r.f1:.3f}",
                      f"{r.f1_interval[0]:.3f}-{r.f1_interval[1]:.3f}", f"{r.cost['calls_per_sentence']:.2f}",
                      f"{r.wall_seconds:.0f}")
    out = Console()  # the result goes to stdout; progress and messages to stderr
    out.print(table)
    for r in rows:  # tokens per 1,000 characters: what a corpus of any text length costs
        c = r.cost
        out.print(f"{r.mode}: {c['prompt_tokens_per_sentence']:.0f} prompt and "
                      f"{c['completion_tokens_per_sentence']:.0f} completion tokens per sentence; "
                      f"{c['prompt_tokens_per_1k_chars']:.0f} and {c['completion_tokens_per_1k_chars']:.0f} "
                      "per 1,000 characters", soft_wrap=True)


@library_app.command("show")
def library_show(
    path: Annotated[Path, typer.Argument(**EXISTING)],
    examples: Annotated[int, typer.Option(help="How many to print.")] = 10,
) -> None:
    """Summary of a library and its first examples."""
    lib = ExampleLibrary.load(path)
    console.print(f"version {lib.version}, {len(lib)} examples {lib.counts()}, types {list(lib.types)}, "
                  f"embedder {lib.embedder}, llm {lib.meta.get('llm', '?')}")
    table = Table("source", "text", "entities")
    for example in list(lib)[:examples]:
        mentions = ", ".join(f"{m.text} [{m.type}]" for m in example.sentence.mentions())
        table.add_row(example.source, example.text, mentions)
    Console().print(table)


@library_app.command("export")
def library_export(
    path: Annotated[Path, typer.Argument(**EXISTING)],
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("library-tasks.json"),
    from_name: str = "label", to_name: str = "text",
) -> None:
    """Write the examples as Label Studio tasks with annotations, to review them by hand."""
    lib = ExampleLibrary.load(path)
    tasks = [{"data": {"text": e.text}, "meta": {"example_id": e.id, "source": e.source},
              "annotations": [{"result": to_results(e.text, e.spans, from_name, to_name)}]} for e in lib]
    _write_json(output, tasks)
    console.print(f"{len(tasks)} examples -> {output}")


@library_app.command("import")
def library_import(
    tasks_file: Annotated[Path, typer.Argument(help="A Label Studio JSON export with annotations.", **EXISTING)],
    library: Annotated[Path, typer.Option("--library", "-l", help="Library to add to (updated in place).",
                                          **EXISTING)],
    text_key: str = "text",
) -> None:
    """Add human-annotated tasks to a library as demonstrations (upserted by task id)."""
    lib = ExampleLibrary.load(library)
    runtime = _runtime(embedding_model=lib.embedder if lib.embedder != "all-MiniLM-L6-v2" else None)
    added = []
    for index, task in enumerate(read_tasks(tasks_file, text_key)):
        annotations = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        if not annotations:
            continue
        text = task["data"][text_key]
        spans = tuple(spans_from_results(text, annotations[-1].get("result") or [], lib.types))
        added.append(Example(f"human-{task.get('id', index)}", text, spans, "human"))
    if added:
        lib.extend(added, runtime.embedder.embed([e.text for e in added]))
    lib.save(library)
    console.print(f"{len(added)} human examples added; library {lib.version} has {len(lib)} examples")


@app.command()
def llm(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the OpenAI-compatible endpoint.")] = 8000,
) -> None:
    """Serve the bundled model (or LOCAL_MODEL_PATH) as one OpenAI-compatible endpoint that several
    backends and workers share: one model in memory however many of them run."""
    settings = Settings()
    model = settings.local_model_path or ensure_bundled_model(settings.data_dir)
    command = server_command(model, host, port, settings.local_threads, settings.local_context)
    console.print(f"serving {model.name} at http://{host}:{port}/v1; point backends and workers at it with "
                  f"LLM_MODEL=openai/{LOCAL_ALIAS} LLM_API_BASE=http://<this host>:{port}/v1 LLM_API_KEY=sk-local")
    os.execv(command[0], command)  # the server is this process: signals and exit codes are its own


def run() -> None:
    """Console entry point: engine errors end with their message, not a traceback."""
    try:
        app()
    except ReverseNERError as err:
        console.print(f"[red]error:[/red] {err}")
        raise SystemExit(2) from err
