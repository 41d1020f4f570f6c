"""Pre-annotate a whole Label Studio project: page through its tasks, predict, post predictions."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .context import Context, get_context
from .ls_api import LabelStudioClient, LabelStudioError
from .jobs import build_library_now
from .model import SKIPPED, ReverseNERModel

__all__ = ["prelabel_project", "prelabel_job"]

log = logging.getLogger(__name__)


def prelabel_project(
    context: Context, project: str, client: LabelStudioClient, *, batch_size: int = 16,
    progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None,
    say: Callable[[str], None] = log.info,
) -> dict[str, int]:
    """Build the project's library if it has none, predict every task in batches and post the
    predictions; returns counts. A task
    that already holds a prediction of the current model_version is left alone (`kept`), so a rerun
    only retries what failed; a task whose prediction failed gets none and is counted in `failed`."""
    label_config = client.project(project).get("label_config")
    if not label_config:
        raise LabelStudioError(f"project {project} has no label config")
    model = ReverseNERModel(project, label_config, context)
    model.setup()
    for index, key in enumerate(model.keys()):  # ReverseNER needs its library first; a command can wait
        if context.store.library_meta(project, key) is None:
            say(f"project {project}: building the example library first (minutes with a local model)")
            outcome = build_library_now(context, project, label_config, index)
            if outcome != "built":
                say(f"project {project}: library {outcome}; predicting zero-shot")
    model = ReverseNERModel(project, label_config, context)  # reads the libraries just built
    model.setup()
    if on_total:
        on_total(client.count_tasks(project))
    counts = {"tasks": 0, "predictions": 0, "entities": 0, "failed": 0, "kept": 0}
    batch: list[dict] = []
    for task in client.iter_tasks(project):
        versions = str(task.get("predictions_model_versions") or "").split(",")
        if model.model_version in (v.strip() for v in versions):
            counts["tasks"] += 1
            counts["kept"] += 1
            if progress:
                progress(1)
            continue
        batch.append(task)
        if len(batch) == batch_size:
            _flush(model, client, batch, counts, progress)
    _flush(model, client, batch, counts, progress)
    return counts


def _flush(model, client, batch: list[dict], counts: dict, progress) -> None:
    if not batch:
        return
    for task, prediction in zip(batch, model.predict(batch, deadline=None), strict=True):
        if prediction is SKIPPED:  # the LLM failed for it; the model logged why
            counts["failed"] += 1
            continue
        client.create_prediction(task["id"], prediction)
        counts["predictions"] += 1
        counts["entities"] += len(prediction["result"])
    counts["tasks"] += len(batch)
    if progress:
        progress(len(batch))
    batch.clear()


def prelabel_job(project: str, url: str | None = None) -> dict[str, int]:
    """RQ entry point; the worker's LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY say where and who."""
    context = get_context()
    s = context.settings
    if not (url or s.label_studio_url) or not s.label_studio_api_key:
        raise LabelStudioError("set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY for the worker")
    client = LabelStudioClient(url or s.label_studio_url, s.label_studio_api_key.get_secret_value())
    counts = prelabel_project(context, project, client)
    log.info("project %s pre-labeled: %s", project, counts)
    return counts
