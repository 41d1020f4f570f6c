"""Corrections: Label Studio's webhook events applied to the project's library. An annotation
becomes human examples, one per chunk the recognizer would ask about, votes on names (what it
labeled, and what it deleted from the backend's prediction) and, where the LLM's answer for the
text is still kept, which of its scored regions the annotator kept (for the thresholds per type).
Each is upserted by annotation id and stamped with its update time, so an event that comes twice or
late changes nothing; a deleted one is removed for good; Start Training builds every library again
and starts a new model_version."""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime

from reversener.corrections import diff, split_correction, split_spans, votes
from reversener.labelstudio import spans_from_results
from reversener.thresholds import scored_record
from reversener.types import Example, Span

from .builds import schedule_build
from .errors import RetryLater, TaskFailed
from .label_config import NerTarget
from .project import ProjectConfig
from .recall import SPAN_NOTE
from .services import Services
from .texts import read_text, task_text, text_key

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
    key = text_key([task_text(task, t.value_key) for t in config.targets])
    served, answer = services.store.served(config.project, key)
    for target in config.targets:
        value = task_text(task, target.value_key)
        if not value:
            log.warning("annotation %s: task has no text in data.%s", annotation["id"], target.value_key)
            continue
        try:
            text = read_text(services, config.project, target, value)
        except TaskFailed as err:  # kept in the spool and tried again: a correction is never dropped
            raise RetryLater(f"annotation {annotation['id']}: {err}") from err
        regions = target.regions(annotation.get("result"))
        spans = tuple(spans_from_results(text, regions, target.types))
        predicted = _predicted(text, served, regions, target)
        edits = diff(predicted, spans)
        services.metrics.add(**{f"correction_regions_{kind}": n for kind, n in Counter(e.kind for e in edits).items()})
        example = Example(_example_id(annotation, target), text, spans, "human")
        # What it fixed is known from the prediction served, or from the origins the editor gave regions
        known = served is not None or any("origin" in r for r in regions)
        method = services.settings.method()
        parts = split_correction(example, method, predicted if known else None)
        vectors = services.runtime.embedder.embed([part.text for part in parts])
        scored = None if answer is None else scored_record(target.spans(text, answer.get("result")), spans)
        before = split_spans(example, method, _before_span_model(text, served, regions, target)) if known else None
        stored += services.store.upsert_human(config.project, example.id, list(zip(parts, vectors, strict=True)),
                                              votes(text, edits), _stamp(annotation), services.settings.version_every,
                                              scored, before)
    return stored


def _predicted(text: str, served: dict | None, regions: list[dict], target: NerTarget) -> list[Span]:
    """What the annotator started from: the prediction this backend last served for the text; without
    it (expired, or made elsewhere), the regions Label Studio marks as accepted from a prediction,
    so that what was deleted stays unknown rather than guessed."""
    if served is not None:
        return target.spans(text, served.get("result"))
    return target.spans(text, [r for r in regions if r.get("origin") == "prediction"])


def _before_span_model(text: str, served: dict | None, regions: list[dict], target: NerTarget) -> list[Span]:
    """What was predicted less what the span model added: what it would add to, when it is judged."""
    if served is not None:
        served = served | {"result": [r for r in served.get("result") or []
                                      if SPAN_NOTE not in ((r.get("meta") or {}).get("text") or ())]}
    return _predicted(text, served, regions, target)


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
