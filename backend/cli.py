"""`reversener serve`, `worker` and `prelabel`: the backend's commands, added to the engine's CLI."""

from __future__ import annotations

import logging
from typing import Annotated, Optional

import typer

from reversener.cli import app, console, progress_bars
from reversener.cli import run as run_engine_cli

__all__ = ["app", "run"]


@app.command()
def serve(
    port: Annotated[Optional[int], typer.Option(help="Port (env PORT, default 9090).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="gunicorn workers (env WORKERS).")] = None,
) -> None:
    """Run the Label Studio ML backend (gunicorn); embedded Redis and LLM unless configured."""
    from .server import serve as serve_backend
    from .settings import BackendSettings

    overrides = {k: v for k, v in {"port": port, "workers": workers}.items() if v is not None}
    serve_backend(BackendSettings(**overrides))


@app.command()
def worker(burst: Annotated[bool, typer.Option(help="Stop when the queue is empty.")] = False) -> None:
    """Run an RQ worker for library builds, webhook events and pre-labeling jobs."""
    from rq import Queue, Worker

    from .context import QUEUE, get_context

    context = get_context()
    logging.basicConfig(level=context.settings.log_level.upper(), force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Worker([Queue(QUEUE, connection=context.redis)], connection=context.redis).work(burst=burst)


@app.command()
def prelabel(
    project: Annotated[str, typer.Option("--project", "-p", help="Label Studio project id.")],
    url: Annotated[Optional[str], typer.Option(help="Label Studio URL (env LABEL_STUDIO_URL).")] = None,
    api_key: Annotated[Optional[str], typer.Option(help="API token (env LABEL_STUDIO_API_KEY).")] = None,
    background: Annotated[bool, typer.Option(help="Enqueue as an RQ job instead of running here.")] = False,
    batch_size: int = 16,
    allow_partial: Annotated[bool, typer.Option(help="Exit 0 even when some tasks failed.")] = False,
) -> None:
    """Pre-annotate every task of a project and post the predictions to Label Studio; exits 1 when
    a task failed (it gets no prediction), unless --allow-partial."""
    from .context import get_context
    from .ls_api import LabelStudioClient
    from .prelabel import prelabel_project

    context = get_context()
    s = context.settings
    url = url or s.label_studio_url
    token = api_key or (s.label_studio_api_key.get_secret_value() if s.label_studio_api_key else None)
    if not url or not token:
        raise typer.BadParameter("give --url and --api-key, or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY")
    context.credentials[project] = (url, token)  # the library build reads the project's texts with them
    if background:
        context.jobs.enqueue("prelabel", "backend.prelabel.prelabel_job", project, url)
        console.print(f"pre-labeling of project {project} enqueued")
        return
    with progress_bars() as bar:
        state: dict = {}
        counts = prelabel_project(
            context, project, LabelStudioClient(url, token), batch_size=batch_size,
            on_total=lambda total: state.update(advance=bar(f"project {project}", total)),
            progress=lambda n: state["advance"](n), say=console.print,
        )
    console.print(f"{counts['predictions']} of {counts['tasks']} tasks predicted, {counts['entities']} entities posted"
                  + (f"; {counts['kept']} already held a prediction of this model_version" if counts["kept"] else ""))
    if counts["failed"]:
        console.print(f"[red]{counts['failed']} tasks failed and got no prediction[/red] (causes in the log above); "
                      "run the command again to retry them")
        if not allow_partial:
            raise typer.Exit(1)


def run() -> None:
    from .context import stop_background

    try:
        run_engine_cli()
    finally:
        stop_background()
