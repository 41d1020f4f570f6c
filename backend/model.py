"""The model in Label Studio's 2.x ML-backend shape: setup(), predict(tasks, context), fit(event, data)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime

from redis.exceptions import RedisError

from reversener import __version__
from reversener.labelstudio import spans_from_results, to_results
from reversener.prompts import templates_hash
from reversener.recognizer import Recognizer
from reversener.types import Example

from .context import Context, get_context
from .label_config import NerTarget, parse_label_config

__all__ = ["ReverseNERModel", "library_key", "project_id"]

log = logging.getLogger(__name__)

TRAINING_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
_REQUEUE_AFTER = 120.0  # seconds before a failed or vanished build is tried again


def project_id(value) -> str:
    """Label Studio sends "<id>.<created_at>" to /setup and /predict, and {"id": ...} in webhooks."""
    if isinstance(value, dict):
        value = value.get("id")
    text = str(value if value is not None else "").split(".")[0].strip()
    if not text:
        raise ValueError("the request names no project")
    return text


def library_key(context: Context, target: NerTarget) -> str:
    """Everything a library depends on: a change in any of them means a new library."""
    s = context.settings
    blob = json.dumps({
        "types": target.types, "llm": s.llm_model or "local", "engine": __version__,
        "prompts": templates_hash(), "method": s.method().model_dump(),
        "embedder": s.embedding_model or "bundled",
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class ReverseNERModel:
    """One project and label config; cheap to create, as Label Studio asks for one per request."""

    def __init__(self, project: str, label_config: str, context: Context | None = None) -> None:
        self.project = str(project)
        self.label_config = label_config
        self.context = context or get_context()
        self.targets: list[NerTarget] = []

    def setup(self) -> None:
        """Parse the label config; never builds anything (Label Studio gives /setup 3 seconds)."""
        self.targets = parse_label_config(self.label_config)

    # --- versions ---
    def keys(self) -> list[str]:
        return [library_key(self.context, t) for t in self.targets]

    @property
    def model_version(self) -> str:
        """Changes with every library change; the last one known while Redis is unreachable."""
        try:
            revision = self.context.revision(self.project)
            metas = [self.context.store.library_meta(self.project, key) for key in self.keys()]
        except RedisError:
            return self.context.versions.get(self.project, "zero-shot (redis unreachable)")
        if any(meta is None for meta in metas):
            version = f"zero-shot (library building) r{revision}"
        else:
            version = "reversener-" + "+".join(m["version"][:8] for m in metas) + f".r{revision}"
        self.context.versions[self.project] = version
        return version

    # --- predict ---
    def predict(self, tasks: list[dict], context: dict | None = None, **kwargs) -> list[dict]:
        """One prediction per task, in order; a task without usable text gets an empty one."""
        results: list[list[dict]] = [[] for _ in tasks]
        scores: list[list[float]] = [[] for _ in tasks]
        for target, key in zip(self.targets, self.keys(), strict=True):
            library = self.context.library(self.project, key, target.types)
            indexed = [(i, text) for i, task in enumerate(tasks) if (text := _text(task, target.value_key))]
            self._build_if_missing(target, key, [t for _, t in indexed])
            recognizer = Recognizer(self.context.runtime.llm, self.context.runtime.embedder, target.types,
                                    library, self.context.settings.method())
            for (i, text), found in zip(indexed, recognizer.recognize([t for _, t in indexed]), strict=True):
                for problem in found.problems:
                    log.warning("task %s: %s", tasks[i].get("id"), problem)
                results[i].extend(to_results(text, found.spans, target.from_name, target.to_name))
                scores[i].extend(s.score for s in found.spans)
        version = self.model_version
        return [
            {"result": result, "score": round(sum(sc) / len(sc), 4) if sc else 0.0, "model_version": version}
            for result, sc in zip(results, scores, strict=True)
        ]

    # --- builds ---
    def _build_if_missing(self, target: NerTarget, key: str, texts: list[str]) -> None:
        try:
            if self.context.store.library_meta(self.project, key) is None:
                self.context.store.remember_texts(self.project, texts, self.context.settings.max_seen_texts)
                self.schedule_build(target, key)
        except RedisError as err:  # predicting matters more than building; the next request retries
            log.warning("Redis unreachable (%s): library build not scheduled", type(err).__name__)

    def schedule_build(self, target: NerTarget, key: str, force: bool = False) -> bool:
        """Enqueue a library build unless one is queued or running; True if one was enqueued."""
        status = self.context.store.status(self.project, key) or {}
        fresh = time.time() - status.get("at", 0) < _REQUEUE_AFTER
        if not force and fresh and status.get("state") in ("queued", "running", "failed"):
            return False
        from .jobs import build_library_job  # jobs import this module

        self.context.store.set_status(self.project, key, "queued")
        self.context.jobs.enqueue("builds", build_library_job, self.project, self.label_config,
                                  self.targets.index(target), force)
        return True

    # --- fit: webhook events ---
    def fit(self, event: str, data: dict, **kwargs) -> dict:
        """Apply one webhook event to the library; returns what changed."""
        if event in TRAINING_EVENTS:
            return {"upserted": self._learn(data.get("annotation") or {}, data.get("task") or {})}
        if event == "ANNOTATIONS_CREATED":
            tasks = {t.get("id"): t for t in data.get("tasks") or [] if isinstance(t, dict)}
            annotations = data.get("annotation") or data.get("annotations") or []
            return {"upserted": sum(self._learn(a, tasks.get(a.get("task"), {})) for a in annotations
                                    if isinstance(a, dict))}
        if event == "ANNOTATIONS_DELETED":
            removed = 0
            for annotation in data.get("annotations") or []:
                for target in self.targets:
                    removed += self.context.store.delete_human(self.project, _example_id(annotation, target))
            return {"deleted": removed}
        if event == "START_TRAINING":
            return {"builds": sum(self.schedule_build(t, k, force=True) for t, k in zip(self.targets, self.keys()))}
        return {"ignored": event}

    def _learn(self, annotation: dict, task: dict) -> int:
        if annotation.get("was_cancelled") or "id" not in annotation:
            return 0
        stored = 0
        for target in self.targets:
            text = _text(task, target.value_key)
            if not text:
                log.warning("annotation %s: task has no text in data.%s", annotation["id"], target.value_key)
                continue
            regions = [r for r in annotation.get("result") or []
                       if isinstance(r, dict) and r.get("from_name") == target.from_name]
            spans = tuple(spans_from_results(text, regions, target.types))
            example = Example(_example_id(annotation, target), text, spans, "human")
            vector = self.context.runtime.embedder.embed([text])[0]
            stored += self.context.store.upsert_human(self.project, example, vector, _stamp(annotation))
        return stored


def _text(task: dict, key: str) -> str | None:
    data = task.get("data") if isinstance(task, dict) else None
    text = data.get(key) if isinstance(data, dict) else None
    return text if isinstance(text, str) and text.strip() else None


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
