"""Corrections: Label Studio's webhook events applied to the project's library. An annotation
becomes a human example, upserted by annotation id and stamped with its update time, so an event
that comes twice or late changes nothing; a deleted one is removed for good; Start Training builds
every library again and starts a new model_version."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from reversener.labelstudio import spans_from_results
from reversener.types import Example

from .builds import schedule_build
from .errors import RetryLater, TaskFailed
from .label_config import NerTarget
from .project import ProjectConfig
from .services import Services
from .texts import read_text, task_text

__all__ = ["fit", "TRAINING_EVENTS"]

log = logging.getLogger(__name__)

TRAINING_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")


def fit(services: Services, config: ProjectConfig, event: str, data: dict) -> dict[str, object]:
    """Apply one webhook event to the project's library; returns what changed. Raises RetryLater
    for an annotation whose text cannot be read yet."""
    if event in TRAINING_EVENTS:
        return {"upserted": _learn(services, config, data.get("annotation") or {}, data.get("task") or {})}
    if event == "ANNOTATIONS_CREATED":
        tasks = {t.get("id"): t for t in data.get("tasks") or [] if isinstance(t, dict)}
        annotations = data.get("annotation") or data.get("annotations") or []
        return {"upserted": sum(_learn(services, config, a, tasks.get(a.get("task"), {})) for a in annotations
                                if isinstance(a, dict))}
    if event == "ANNOTATIONS_DELETED":
        every, removed = services.settings.version_every, 0
        for annotation in data.get("annotations") or []:
            for target in config.targets:
                removed += services.store.delete_human(config.project, _example_id(annotation, target), every)
        return {"deleted": removed}
    if event == "START_TRAINING":
        services.store.new_generation(config.project)
        return {"builds": sum(schedule_build(services, config, i, force=True) for i in range(len(config.keys)))}
    return {"ignored": event}


def _learn(services: Services, config: ProjectConfig, annotation: dict, task: dict) -> int:
    if annotation.get("was_cancelled") or "id" not in annotation:
        return 0
    stored = 0
    for target in config.targets:
        value = task_text(task, target.value_key)
        if not value:
            log.warning("annotation %s: task has no text in data.%s", annotation["id"], target.value_key)
            continue
        try:
            text = read_text(services, config.project, target, value)
        except TaskFailed as err:  # kept in the spool and tried again: a correction is never dropped
            raise RetryLater(f"annotation {annotation['id']}: {err}") from err
        regions = [r for r in annotation.get("result") or []
                   if isinstance(r, dict) and r.get("from_name") == target.from_name]
        spans = tuple(spans_from_results(text, regions, target.types))
        example = Example(_example_id(annotation, target), text, spans, "human")
        vector = services.runtime.embedder.embed([text])[0]
        stored += services.store.upsert_human(config.project, example, vector, _stamp(annotation),
                                              services.settings.version_every)
    return stored


def _example_id(annotation: dict, target: NerTarget) -> str:
    return f"ann-{annotation.get('id')}@{target.from_name}"


def _stamp(annotation: dict) -> float:
    """The annotation's update time, so a late, older webhook cannot undo a newer one."""
    for field in ("updated_at", "created_at"):
        value = annotation.get(field)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return time.time()
