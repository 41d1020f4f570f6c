"""Library builds, one at a time per (project, library key), each key's state kept in Redis:

    (none) --schedule--> queued --a job takes the key's lock--> running --> done
                           ^                                           +--> failed       (retry_at: a backoff)
                           |                                           +--> interrupted  (the process stopped)
                           +-- scheduled again from none, done or interrupted; from failed once its
                               backoff is over; from queued after STALE_QUEUED seconds with no job
                               started; from running once its lock is gone (the builder died)

A job that finds its library built is `done` without building; a forced build (Start Training)
is scheduled and runs whatever the state.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import LockError, RedisError

from reversener.builder import build_library

from .errors import BuildFailed
from .project import ProjectConfig
from .services import Services, get_services
from .texts import project_texts

__all__ = ["STALE_QUEUED", "retry_delay", "build_missing", "schedule_build", "build_library_job",
           "build_library_now"]

log = logging.getLogger(__name__)

STALE_QUEUED = 120.0  # seconds after which a queued build that never started is queued again


def retry_delay(attempts: int) -> float:
    """Seconds before a failed build is tried again: 30 s, doubling, at most 30 min."""
    return min(30.0 * 2 ** (attempts - 1), 1800.0)


def build_missing(services: Services, config: ProjectConfig, missing: list[bool],
                  texts: list[list[str | None]]) -> None:
    """Schedule a build of each library not built yet, keeping the request's texts (one list per
    task, a text per target) to build from when Label Studio's API is out of reach."""
    try:
        for index, target in enumerate(config.targets):
            if missing[index]:
                if not target.by_url:  # URLs are no texts to build from; the build reads them
                    services.store.remember_texts(config.project, [text for t in texts if (text := t[index])],
                                                  services.settings.max_seen_texts)
                schedule_build(services, config, index)
    except RedisError as err:  # predicting matters more than building; the next request retries
        log.warning("Redis unreachable (%s): library build not scheduled", type(err).__name__)


def schedule_build(services: Services, config: ProjectConfig, index: int, force: bool = False) -> bool:
    """Enqueue a build of target `index`'s library unless one is queued or running, or a failed one
    waits out its backoff; True if one was enqueued."""
    store, project, key = services.store, config.project, config.keys[index]
    status = store.status(project, key) or {}
    if not force:
        state, now = status.get("state"), time.time()
        if state == "running" and store.build_lock(project, key, 1).locked():
            return False
        if state == "queued" and now - status.get("at", 0) < STALE_QUEUED:
            return False
        if state == "failed" and now < status.get("retry_at", 0):
            return False
    store.set_status(project, key, "queued", attempts=status.get("attempts", 0))
    services.jobs.enqueue("builds", build_library_job, project, config.label_config, index, force)
    return True


def build_library_job(project: str, label_config: str, target_index: int, force: bool = False) -> str:
    """The background job: build_library_now with this process's services."""
    services = get_services()
    return build_library_now(services, ProjectConfig.parse(project, label_config, services.settings),
                             target_index, force)


def build_library_now(services: Services, config: ProjectConfig, target_index: int, force: bool = False) -> str:
    """Build one target's library; a Redis lock makes sure only one build per key runs at a time.
    A build whose LLM calls failed saves nothing and is `failed`, to be retried after a backoff."""
    store, project, key = services.store, config.project, config.keys[target_index]
    lock = store.build_lock(project, key, services.settings.build_lock_seconds)
    if not lock.acquire():
        return "another build of this library is running"
    attempts = (store.status(project, key) or {}).get("attempts", 0) + 1
    try:
        if not force and store.library_meta(project, key) is not None:
            store.set_status(project, key, "done")
            return "library exists"
        store.set_status(project, key, "running", attempts=attempts)
        _build(services, config, target_index)
        return "built"
    except Exception as err:
        if services.stopping.is_set():  # abandoned by a stop, not failed: the next start builds it again
            store.set_status(project, key, "interrupted", attempts=attempts - 1)
            log.info("project %s: library build abandoned, the process is stopping", project)
            return "interrupted"
        delay = retry_delay(attempts)
        store.set_status(project, key, "failed", error=f"{type(err).__name__}: {err}", attempts=attempts,
                         retry_at=time.time() + delay)
        log.warning("project %s: library build failed (attempt %d), retried after %.0fs: %s", project,
                    attempts, delay, err)
        if isinstance(err, BuildFailed):
            return "failed"
        raise
    finally:
        try:
            lock.release()
        except LockError:  # it expired while we worked: another build may already hold it
            log.warning("project %s: build lock for %s expired before release", project, key)


def _build(services: Services, config: ProjectConfig, index: int) -> None:
    """Build and save the library; `done` with what it holds, or BuildFailed with nothing saved."""
    store, project, key, target = services.store, config.project, config.keys[index], config.targets[index]
    started = time.monotonic()
    texts = project_texts(services, project, target)
    if not texts:
        raise BuildFailed("no task texts to build from yet (no Label Studio API reachable, none seen)")
    library, report = build_library(texts, target.types, services.runtime.background_llm, services.runtime.embedder,
                                    services.settings.method())
    if report.llm_failures:
        raise BuildFailed(f"{report.llm_failures} LLM calls failed, the first: {report.llm_error}")
    store.save_synthetic(project, key, library)
    store.set_status(project, key, "done", kept=report.kept, planned=report.planned, texts=len(texts))
    log.info("project %s: library %s built in %.0fs, %d examples from %d texts", project, key,
             time.monotonic() - started, report.kept, len(texts))
