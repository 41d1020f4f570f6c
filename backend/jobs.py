"""Background jobs, importable by RQ workers: library builds, webhook events, whole-project pre-labeling."""

from __future__ import annotations

import logging

from redis.exceptions import LockError, RedisError

from reversener.builder import build_library

from .context import get_context
from .ls_api import LabelStudioClient
from .model import ReverseNERModel

__all__ = ["build_library_job", "webhook_job", "apply_webhook", "project_texts"]

log = logging.getLogger(__name__)


def project_texts(project: str, value_key: str) -> list[str]:
    """The project's task texts from Label Studio's API if we can reach it, else those seen in /predict."""
    context = get_context()
    s = context.settings
    url, token = None, None
    if s.label_studio_url and s.label_studio_api_key:
        url, token = s.label_studio_url, s.label_studio_api_key.get_secret_value()
    elif project in context.credentials:
        url, token = context.credentials[project]
    texts: list[str] = []
    if url and token:
        try:
            client = LabelStudioClient(url, token)
            texts = [t["data"][value_key] for t in client.iter_tasks(project)
                     if isinstance(t.get("data", {}).get(value_key), str)]
        except Exception as err:  # any API trouble: fall back to the texts we have seen
            log.warning("project %s: could not fetch tasks from Label Studio (%s); using texts seen", project, err)
    return texts or context.store.seen_texts(project)


def build_library_job(project: str, label_config: str, target_index: int, force: bool = False) -> str:
    """Build one target's library; a Redis lock makes sure only one build per key runs at a time."""
    context = get_context()
    model = ReverseNERModel(project, label_config, context)
    model.setup()
    target = model.targets[target_index]
    key = model.keys()[target_index]
    lock = context.store.build_lock(project, key, context.settings.build_lock_seconds)
    if not lock.acquire():
        return "another build of this library is running"
    try:
        if not force and context.store.library_meta(project, key) is not None:
            context.store.set_status(project, key, "done")
            return "library exists"
        context.store.set_status(project, key, "running")
        texts = project_texts(project, target.value_key)
        library, report = build_library(texts, target.types, context.runtime.background_llm,
                                        context.runtime.embedder, context.settings.method())
        context.store.save_synthetic(project, key, library)
        context.store.set_status(project, key, "done", kept=report.kept, planned=report.planned,
                                 texts=len(texts))
        log.info("project %s: library %s built, %d examples from %d texts", project, key, report.kept, len(texts))
        return "built"
    except Exception as err:
        context.store.set_status(project, key, "failed", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        try:
            lock.release()
        except LockError:  # it expired while we worked: another build may already hold it
            log.warning("project %s: build lock for %s expired before release", project, key)


def apply_webhook(event: dict) -> dict:
    """Apply one webhook event ({action, project, label_config, data}) to the project's library."""
    model = ReverseNERModel(event["project"], event["label_config"], get_context())
    model.setup()
    outcome = model.fit(event["action"], event["data"])
    log.info("project %s: %s -> %s", event["project"], event["action"], outcome)
    return outcome


def webhook_job(event: dict) -> dict | None:
    """The background job for a webhook; if Redis is gone, the event waits in the spool."""
    try:
        return apply_webhook(event)
    except RedisError:
        get_context().spool.add(event)
        return None
