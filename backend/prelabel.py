"""Pre-annotate a whole Label Studio project: page through its tasks, predict, post predictions.

Run here (`reversener prelabel`) it pages through the project in this process. Run in the background
(`--background`) a first job builds the library and enqueues one job per page of tasks, so every RQ
worker takes pages; a page whose worker died is retried, and a retried page skips the tasks that
already hold a prediction of the current model_version, so each task is predicted once. Pages are
page numbers of Label Studio's task list, which is ordered by id when no view is named
(data_manager/managers.py apply_ordering), so tasks imported during a run land on later pages.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from .builds import build_library_now
from .errors import LabelStudioError
from .ls_api import LabelStudioClient
from .predictions import Predictor
from .project import ProjectConfig
from .services import Services, get_services
from .versions import read_state

__all__ = ["prelabel_project", "prelabel_job", "prelabel_page_job", "COUNTS"]

log = logging.getLogger(__name__)

COUNTS = ("tasks", "predictions", "entities", "failed", "kept")
BATCHES_IN_FLIGHT = 2  # a batch's first calls fill the LLM slots its predecessor's last calls leave free


def prelabel_project(
    services: Services, project: str, client: LabelStudioClient, *, batch_size: int = 16,
    progress: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None,
    say: Callable[[str], None] = log.info,
) -> dict[str, int]:
    """Build the project's library if it has none, predict every task in batches and post the
    predictions; returns counts. A task that already holds a prediction of the current
    model_version is left alone (`kept`), so a rerun only retries what failed; a task whose
    prediction failed gets none and is counted in `failed`."""
    label_config = ready_config(services, project, client, say)
    if on_total:
        on_total(client.count_tasks(project))
    return predict_tasks(services, project, label_config, client, client.iter_tasks(project), batch_size, progress)


def ready_config(services: Services, project: str, client: LabelStudioClient,
                 say: Callable[[str], None] = log.info) -> str:
    """The project's label config, once each of its libraries is built (or its build failed)."""
    label_config = client.project(project).get("label_config")
    if not label_config:
        raise LabelStudioError(f"project {project} has no label config")
    config = ProjectConfig.parse(project, label_config, services.settings)
    for index, key in enumerate(config.keys):  # ReverseNER needs its library first; a command can wait
        if services.store.library_meta(project, key) is None:
            say(f"project {project}: building the example library first (minutes with a local model)")
            outcome = build_library_now(services, config, index)
            if outcome != "built":
                say(f"project {project}: library {outcome}; predicting zero-shot")
    return label_config


def predict_tasks(services: Services, project: str, label_config: str, client: LabelStudioClient,
                  tasks: Iterable[dict], batch_size: int = 16,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Predict and post each task that holds no prediction of the current model_version. The next
    batch is predicted while one finishes, and a batch's predictions are posted while later ones are
    predicted, so the LLM neither waits for a batch's last answers nor for Label Studio."""
    config = ProjectConfig.parse(project, label_config, services.settings)
    predictor = Predictor(services, config, read_state(services, config))  # the libraries as they are now
    counts = dict.fromkeys(COUNTS, 0)
    batch: list[dict] = []
    posts: list[Future[dict[str, int]]] = []
    predicting: deque[tuple[list[dict], Future[list[dict | list]]]] = deque()
    with (ThreadPoolExecutor(BATCHES_IN_FLIGHT, thread_name_prefix="prelabel-predict") as predictor_pool,
          ThreadPoolExecutor(1, thread_name_prefix="prelabel-post") as poster):  # one: posts stay in order

        def post_done(keep: int) -> None:
            """Post the oldest batches' predictions, in order, until `keep` batches are in flight."""
            while len(predicting) > keep:
                done, prediction = predicting.popleft()
                posts.append(poster.submit(_post, client, done, prediction.result(), progress))

        for task in tasks:
            versions = str(task.get("predictions_model_versions") or "").split(",")
            if predictor.state.version in (v.strip() for v in versions):
                counts["tasks"] += 1
                counts["kept"] += 1
                if progress:
                    progress(1)
                continue
            batch.append(task)
            if len(batch) == batch_size:
                _raise_failed_post(posts)
                predicting.append((batch, predictor_pool.submit(predictor.predict, batch, deadline=None)))
                post_done(keep=BATCHES_IN_FLIGHT - 1)
                batch = []
        if batch:
            predicting.append((batch, predictor_pool.submit(predictor.predict, batch, deadline=None)))
        post_done(keep=0)
        for post in posts:
            for name, value in post.result().items():  # raises a post's LabelStudioError
                counts[name] += value
    return counts


def _raise_failed_post(posts: list[Future[dict[str, int]]]) -> None:
    """Stop predicting once Label Studio refused a post: its error is the run's."""
    for post in posts:
        if post.done() and post.exception() is not None:
            post.result()


def _post(client: LabelStudioClient, batch: list[dict], predictions: list[dict | list],
          progress: Callable[[int], None] | None) -> dict[str, int]:
    """Post one batch's predictions; its counts."""
    counts = dict.fromkeys(COUNTS, 0)
    for task, prediction in zip(batch, predictions, strict=True):
        if not isinstance(prediction, dict):  # SKIPPED: the LLM failed for it; the predictor logged why
            counts["failed"] += 1
            continue
        client.create_prediction(task["id"], prediction)
        counts["predictions"] += 1
        counts["entities"] += len(prediction["result"])
    counts["tasks"] += len(batch)
    if progress:
        progress(len(batch))
    return counts


# --- in the background: one job builds, then one job per page ---

def prelabel_job(project: str, url: str | None = None, page_size: int = 100) -> dict:
    """RQ entry point: build the library, then enqueue a job per page of tasks (once per run, even
    when this job is retried after its worker died). The worker's LABEL_STUDIO_URL and
    LABEL_STUDIO_API_KEY say where and who; the token never goes through Redis."""
    from rq import get_current_job

    services = get_services()
    client = _client(services, project, url)
    label_config = ready_config(services, project, client)
    current = get_current_job()
    run = current.id if current is not None else "inline"
    pages = math.ceil(client.count_tasks(project) / page_size)
    calls = [(project, label_config, run, page, page_size, url) for page in range(1, pages + 1)]
    if services.store.prelabel_run(project).get("run") == run:
        log.info("project %s: pre-labeling run %s already enqueued its pages", project, run)
    else:
        services.jobs.enqueue_many("prelabel", prelabel_page_job, calls,
                                   then=lambda pipe: services.store.start_prelabel(project, run, pages, pipe))
        log.info("project %s: pre-labeling run %s: %d pages of %d tasks enqueued", project, run, pages, page_size)
    return {"run": run, "pages": pages}


def prelabel_page_job(project: str, label_config: str, run: str, page: int, page_size: int,
                      url: str | None = None) -> dict[str, int]:
    """RQ entry point: predict one page of tasks and add its counts to the run's progress."""
    services = get_services()
    client = _client(services, project, url)
    tasks = client.tasks_page(project, page, page_size)
    counts = predict_tasks(services, project, label_config, client, tasks)
    services.store.add_prelabel(project, run, page, counts)
    log.info("project %s, run %s, page %d: %s", project, run, page, counts)
    return counts


def _client(services: Services, project: str, url: str | None) -> LabelStudioClient:
    """A client of the Label Studio at `url` (else LABEL_STUDIO_URL), which the library build reads
    the project's texts from too."""
    s = services.settings
    url = url or s.label_studio_url
    if not url or not s.label_studio_api_key:
        raise LabelStudioError("set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY for the worker")
    services.credentials[project] = (url, s.label_studio_api_key.get_secret_value())
    return LabelStudioClient(*services.credentials[project])
