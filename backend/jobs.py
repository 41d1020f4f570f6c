"""Background jobs, enqueued by name and importable by RQ workers: library builds, webhook events."""

from __future__ import annotations

import logging
import time

from redis.exceptions import LockError, RedisError

from reversener.builder import build_library

from .context import Context, get_context
from .label_config import NerTarget
from .ls_api import LabelStudioError
from .model import ReverseNERModel

__all__ = ["build_library_job", "build_library_now", "webhook_job", "apply_webhook", "project_texts", "retry_delay"]

log = logging.getLogger(__name__)


def retry_delay(attempts: int) -> float:
    """Seconds before a failed build is tried again: 30 s, doubling, at most 30 min."""
    return min(30.0 * 2 ** (attempts - 1), 1800.0)


def project_texts(context: Context, project: str, target: NerTarget) -> list[str]:
    """The project's task texts from Label Studio's API if we can reach it (read from their URLs for
    valueType="url", at most MAX_SEEN_TEXTS), else those seen in /predict."""
    client = context.ls_client(project)
    texts: list[str] = []
    if client is not None:
        try:
            values = [t["data"][target.value_key] for t in client.iter_tasks(project)
                      if isinstance(t.get("data", {}).get(target.value_key), str)]
            if target.by_url:
                values = [client.read_text(url) for url in values[: context.settings.max_seen_texts]]
            texts = values
        except LabelStudioError as err:
            log.warning("project %s: could not fetch tasks from Label Studio (%s); using texts seen", project, err)
    return texts or context.store.seen_texts(project)


def build_library_job(project: str, label_config: str, target_index: int, force: bool = False) -> str:
    """The background job: build_library_now in this process's context."""
    return build_library_now(get_context(), project, label_config, target_index, force)


def build_library_now(context: Context, project: str, label_config: str, target_index: int,
                      force: bool = False) -> str:
    """Build one target's library; a Redis lock makes sure only one build per key runs at a time.
    A build whose LLM calls failed saves nothing and is `failed`, to be retried after a backoff."""
    model = ReverseNERModel(project, label_config, context)
    model.setup()
    target = model.targets[target_index]
    key = model.keys()[target_index]
    store = context.store
    lock = store.build_lock(project, key, context.settings.build_lock_seconds)
    if not lock.acquire():
        return "another build of this library is running"
    attempts = (store.status(project, key) or {}).get("attempts", 0) + 1
    try:
        if not force and store.library_meta(project, key) is not None:
            store.set_status(project, key, "done")
            return "library exists"
        store.set_status(project, key, "running", attempts=attempts)
        started = time.monotonic()
        texts = project_texts(context, project, target)
        if not texts:
            raise BuildFailed("no task texts to build from yet (no Label Studio API reachable, none seen)")
        library, report = build_library(texts, target.types, context.runtime.background_llm,
                                        context.runtime.embedder, context.settings.method())
        if report.llm_failures:
            raise BuildFailed(f"{report.llm_failures} LLM calls failed, the first: {report.llm_error}")
        store.save_synthetic(project, key, library)
        store.set_status(project, key, "done", kept=report.kept, planned=report.planned, texts=len(texts))
        log.info("project %s: library %s built in %.0fs, %d examples from %d texts", project, key,
                 time.monotonic() - started, report.kept, len(texts))
        return "built"
    except Exception as err:
        if context.stopping.is_set():  # abandoned by a stop, not failed: the next start builds it again
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


class BuildFailed(Exception):
    """The LLM failed during a build: the library would be partial."""


def apply_webhook(event: dict) -> dict:
    """Apply one webhook event ({action, project, label_config, data}) to the project's library."""
    model = ReverseNERModel(event["project"], event["label_config"], get_context())
    model.setup()
    outcome = model.fit(event["action"], event["data"])
    log.info("project %s: %s -> %s", event["project"], event["action"], outcome)
    return outcome


def webhook_job(event: dict) -> dict | None:
    """The background job for a webhook; if Redis is gone, or a text behind a URL cannot be read
    yet, the event waits in the spool."""
    try:
        return apply_webhook(event)
    except (RedisError, LabelStudioError):
        get_context().spool.add(event)
        return None
