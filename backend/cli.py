"""`reversener serve`, `worker` and `prelabel`: the backend's commands, added to the engine's CLI."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, TypedDict

import typer

from reversener.cli import app, console, progress_bars
from reversener.cli import run as run_engine_cli

if TYPE_CHECKING:  # the commands import the backend only when they run
    from .services import Services

__all__ = ["app", "run"]


class _ServeOptions(TypedDict, total=False):
    """The settings `serve` takes from its options; one left out comes from the environment."""

    port: int
    workers: int


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (env PORT, default 9090).")] = None,
    workers: Annotated[int | None, typer.Option(help="gunicorn workers (env WORKERS).")] = None,
) -> None:
    """Run the Label Studio ML backend (gunicorn); embedded Redis and LLM unless configured."""
    from .server import serve as serve_backend
    from .settings import BackendSettings

    overrides: _ServeOptions = {}
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    serve_backend(BackendSettings(**overrides))


@app.command()
def worker(burst: Annotated[bool, typer.Option(help="Stop when the queue is empty.")] = False) -> None:
    """Run an RQ worker for library builds, webhook events and pre-labeling jobs."""
    from .services import get_services
    from .worker import run_worker

    services = get_services()
    logging.basicConfig(level=services.settings.log_level.upper(), force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_worker(services, burst)


@app.command()
def prelabel(
    project: Annotated[str, typer.Option("--project", "-p", help="Label Studio project id.")],
    url: Annotated[str | None, typer.Option(help="Label Studio URL (env LABEL_STUDIO_URL).")] = None,
    api_key: Annotated[str | None, typer.Option(help="API token (env LABEL_STUDIO_API_KEY).")] = None,
    background: Annotated[bool, typer.Option(
        help="Enqueue for the RQ workers (a job per page of tasks) instead of running here.")] = False,
    status: Annotated[bool, typer.Option(help="Show the progress of the project's latest background run.")] = False,
    batch_size: int = 16,
    page_size: Annotated[int, typer.Option(min=1, help="Tasks per background job.")] = 100,
    allow_partial: Annotated[bool, typer.Option(help="Exit 0 even when some tasks failed.")] = False,
) -> None:
    """Pre-annotate every task of a project and post the predictions to Label Studio; exits 1 when
    a task failed (it gets no prediction), unless --allow-partial."""
    from .ls_api import LabelStudioClient
    from .prelabel import prelabel_job, prelabel_project
    from .services import get_services

    services = get_services()
    if status:
        _show_prelabel(services, project)
        return
    s = services.settings
    url = url or s.label_studio_url
    token = api_key or (s.label_studio_api_key.get_secret_value() if s.label_studio_api_key else None)
    if not url or not token:
        raise typer.BadParameter("give --url and --api-key, or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY")
    if background:
        if s.inline():  # jobs would run in this process, which ends now
            raise typer.BadParameter("--background needs REDIS_URL and running `reversener worker` processes")
        services.jobs.enqueue("prelabel", prelabel_job, project, url, page_size)
        console.print(f"pre-labeling of project {project} enqueued; the workers need LABEL_STUDIO_API_KEY. "
                      f"Follow it with: reversener prelabel -p {project} --status")
        return
    services.credentials[project] = (url, token)  # the library build reads the project's texts with them
    stats = services.runtime.llm.stats
    before = stats.snapshot()
    with progress_bars() as bar:
        state: dict = {}

        def built(total: int) -> None:  # called once the library is ready, before the first task
            state.update(advance=bar(f"project {project}", total), build=stats.since(before), tasks=stats.snapshot())

        counts = prelabel_project(services, project, LabelStudioClient(url, token), batch_size=batch_size,
                                  on_total=built, progress=lambda n: state["advance"](n), say=console.print)
    console.print(f"{counts['predictions']} of {counts['tasks']} tasks predicted, {counts['entities']} entities posted"
                  + (f"; {counts['kept']} already held a prediction of this model_version" if counts["kept"] else ""))
    console.print(f"LLM: library build {_spent(state['build'])}; tasks {_spent(stats.since(state['tasks']))}",
                  soft_wrap=True)
    if counts["failed"]:
        console.print(f"[red]{counts['failed']} tasks failed and got no prediction[/red] (causes in the log above); "
                      "run the command again to retry them")
        if not allow_partial:
            raise typer.Exit(1)


@app.command()
def learned(project: Annotated[str, typer.Option("--project", "-p", help="Label Studio project id.")]) -> None:
    """What a project's corrections teach the next predictions: the memory of names, the score
    thresholds raised per type, the names listed in prompts and the span model's types (as GET /memory
    and GET /thresholds give them)."""
    from .services import get_services

    services = get_services()
    method, revision = services.settings.method(), services.store.revision(project)
    known = services.memory(project, revision, method.memory_agreement).known()
    thresholds = services.thresholds(project, revision)
    console.print(f"project {project}: memory of names {'on' if method.name_memory else 'off'}, "
                  f"{len(known)} names (agreement >= {method.memory_agreement})")
    for name, (label, share, votes) in sorted(known.items()):
        console.print(f"  {name!r} -> {label or 'not an entity'} ({share:.0%} of {votes} corrections)")
    corrections = len(services.scored(project, revision))
    console.print(f"thresholds per type {'on' if method.learn_thresholds else 'off'}: {corrections} corrections "
                  f"with the LLM's answer (from {method.threshold_corrections} on), MIN_SCORE {method.min_score}")
    for label, threshold in sorted(thresholds.raised.items()):
        console.print(f"  {label}: regions scored below {threshold} are dropped")
    if left := sorted(thresholds.left):
        console.print(f"  weighed and left at MIN_SCORE: {', '.join(left)}")
    missed = services.missed_types(project, revision)
    console.print(f"types the model misses: {', '.join(missed) or 'none'}; shown in every prompt by up to "
                  f"{method.coverage_demonstrations} corrections (COVERAGE_DEMONSTRATIONS)")
    per_type = services.settings.correction_hints
    hints = services.hints(project, revision) if per_type else None
    console.print(f"names listed in every prompt (CORRECTION_HINTS): {per_type or 'off'}")
    for label, names in sorted(hints.labeled.items() if hints else ()):
        console.print(f"  labeled {label}: {', '.join(names)}")
    if hints and hints.deleted:
        console.print(f"  not an entity: {', '.join(hints.deleted)}")
    label_config = services.store.config(project)
    if not method.span_model or not label_config:
        console.print(f"span model {'on' if method.span_model else 'off'}: adds no type"
                      + ("" if label_config else " (the project has not asked for a prediction yet)"))
        return
    from .project import ProjectConfig
    from .versions import read_state

    learned = read_state(services, ProjectConfig.parse(project, label_config, services.settings)).spans
    console.print(f"span model on: adds {', '.join(sorted(learned.types if learned else ())) or 'no type'} "
                  f"where the LLM found nothing, scored at least {method.span_min_score}")
    if learned is not None and (rejected := sorted(learned.rejected)):
        console.print(f"  judged on held-out corrections and not adopted: {', '.join(rejected)}")


def _spent(counters: dict[str, float]) -> str:
    return (f"{counters['calls']:.0f} calls, {counters['prompt_tokens']:.0f} prompt and "
            f"{counters['completion_tokens']:.0f} completion tokens, {counters['seconds']:.0f} s")


def _show_prelabel(services: Services, project: str) -> None:
    run = services.store.prelabel_run(project)
    if not run:
        console.print(f"project {project}: no background pre-labeling has started its pages yet")
        return
    console.print(f"project {project}, run {run['run']}: {run['pages_done']} of {run['pages']} pages done; "
                  f"{run.get('tasks', 0)} tasks: {run.get('predictions', 0)} predicted, {run.get('kept', 0)} kept, "
                  f"{run.get('failed', 0)} failed; {run.get('entities', 0)} entities posted")


def run() -> None:
    from .services import stop_background

    try:
        run_engine_cli()
    finally:
        stop_background()
