"""A task's texts: read from its data, or through Label Studio's API when the label config says
valueType="url", and the project's texts a library is built from."""

from __future__ import annotations

import hashlib
import json
import logging

from .errors import LabelStudioError, TaskFailed
from .label_config import NerTarget
from .services import Services

__all__ = ["task_text", "text_key", "read_text", "project_texts"]

log = logging.getLogger(__name__)


def task_text(task: object, key: str) -> str | None:
    """The task's `data[key]` if it holds text; None for a missing, empty or non-string value."""
    data = task.get("data") if isinstance(task, dict) else None
    text = data.get(key) if isinstance(data, dict) else None
    return text if isinstance(text, str) and text.strip() else None


def text_key(texts: list[str | None]) -> str:
    """Names a task's texts (one per target), to keep its prediction by."""
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()[:32]


def read_text(services: Services, project: str, target: NerTarget, value: str) -> str:
    """The task's text; for valueType="url", read through Label Studio's API with the project's
    credentials, as Label Studio's own backends do (uploads, local storage, other hosts)."""
    if not target.by_url:
        return value
    client = services.ls_client(project)
    if client is None:
        raise TaskFailed("the text is behind a URL (valueType=url) and the backend has no Label Studio "
                         "credentials: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY, or connect it from a project")
    try:
        return client.read_text(value)
    except LabelStudioError as err:
        raise TaskFailed(str(err)) from err


def project_texts(services: Services, project: str, target: NerTarget) -> list[str]:
    """The project's task texts from Label Studio's API if we can reach it (read from their URLs for
    valueType="url", at most MAX_SEEN_TEXTS), else those seen in /predict."""
    client = services.ls_client(project)
    texts: list[str] = []
    if client is not None:
        try:
            values = [t["data"][target.value_key] for t in client.iter_tasks(project)
                      if isinstance(t.get("data", {}).get(target.value_key), str)]
            if target.by_url:
                values = [client.read_text(url) for url in values[: services.settings.max_seen_texts]]
            texts = values
        except LabelStudioError as err:
            log.warning("project %s: could not fetch tasks from Label Studio (%s); using texts seen", project, err)
    return texts or services.store.seen_texts(project)
