"""The model in Label Studio's 2.x ML-backend shape: setup(), predict(tasks, context), fit(event, data)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, partial

from redis.exceptions import RedisError

from reversener import __version__
from reversener.confidence import weakest
from reversener.labelstudio import prediction, spans_from_results, to_results
from reversener.library import ExampleLibrary
from reversener.prompts import templates_hash
from reversener.recognizer import Recognizer
from reversener.types import Example

from .context import Context, get_context
from .label_config import NerTarget, parse_label_config
from .ls_api import LabelStudioError
from .pending import Outcome, TaskFailed

__all__ = ["ReverseNERModel", "ModelState", "library_key", "project_id", "SKIPPED"]

log = logging.getLogger(__name__)

TRAINING_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
BUILD_JOB = "backend.jobs.build_library_job"
# Label Studio 1.23 stores nothing for a task whose answer is an empty list of predictions, and
# asks for it again next time; a shorter `results` list would make it ask task by task instead.
SKIPPED: list = []
_STALE_QUEUED = 120.0  # seconds after which a queued build that never started is queued again
_NO_DEADLINE = object()


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
    return _digest({"types": target.types, "llm": s.llm_model or "local", "engine": __version__,
                    "prompts": templates_hash(), "method": s.build_settings(),
                    "embedder": s.embedding_model or "bundled"}, 16)


def method_tag(context: Context) -> str:
    """The method settings a build does not read (MIN_SCORE, COMBINE_ZERO_SHOT, ...): changing one keeps
    the library but changes the predictions, so it is part of the model_version."""
    return _digest(context.settings.use_settings(), 4)


def _digest(value: dict, length: int) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class ModelState:
    """What one request predicts with, read once: its model_version and each target's library."""

    version: str
    libraries: list[ExampleLibrary | None]
    missing: list[bool]  # per target: no library built yet (False while Redis is unreachable)


class ReverseNERModel:
    """One project and label config; cheap to create, as Label Studio asks for one per request."""

    def __init__(self, project: str, label_config: str, context: Context | None = None) -> None:
        self.project = str(project)
        self.label_config = label_config
        self.context = context or get_context()
        self.targets: list[NerTarget] = []
        self._keys: list[str] | None = None

    def setup(self) -> None:
        """Parse the label config; never builds anything (Label Studio gives /setup 3 seconds)."""
        self.targets = parse_label_config(self.label_config)
        self._keys = None

    def keys(self) -> list[str]:
        """Each target's library key; hashed once per model (a request asks for them twice)."""
        if self._keys is None:
            self._keys = [library_key(self.context, t) for t in self.targets]
        return self._keys

    # --- the version: one read per request ---
    @cached_property
    def state(self) -> ModelState:
        """The libraries and model_version, from one Redis round trip (plus library loads when the
        project's revision moved on). The version changes with a new library, Start Training, and
        every VERSION_EVERY corrections; `reversener-…` only once every library holds examples."""
        keys, tag = self.keys(), f".m{method_tag(self.context)}"
        try:
            revision, generation, metas = self.context.store.snapshot(self.project, keys)
        except RedisError as err:
            log.warning("Redis unreachable (%s): predicting with the libraries in memory", type(err).__name__)
            libraries = [self.context.library(self.project, k, t.types, None) for t, k in zip(self.targets, keys)]
            version = self.context.versions.get(self.project, "zero-shot" + tag)
            return ModelState(version, libraries, [False] * len(keys))
        libraries = [self.context.library(self.project, k, t.types, revision) for t, k in zip(self.targets, keys)]
        ready = all(m is not None and m.get("examples", 1) > 0 for m in metas)
        version = ("reversener-" + "+".join(m["version"][:8] for m in metas) if ready else "zero-shot") + tag
        version += f".g{generation}" if generation else ""
        self.context.versions[self.project] = version
        return ModelState(version, libraries, [m is None for m in metas])

    @property
    def model_version(self) -> str:
        return self.state.version

    # --- predict ---
    def predict(self, tasks: list[dict], context: dict | None = None, *, deadline=_NO_DEADLINE,
                **kwargs) -> list[dict | list]:
        """One answer per task, in order: a prediction, or SKIPPED for a task that failed or was
        not done by the deadline (monotonic seconds; default PREDICT_DEADLINE from now, None waits
        for all). Late tasks finish in the background, are kept for the next request, and are
        written back to Label Studio when the backend has its credentials."""
        started = time.monotonic()
        if deadline is _NO_DEADLINE:
            seconds = self.context.settings.predict_deadline
            deadline = started + seconds if seconds > 0 else None
        state = self.state
        texts = [[_text(task, t.value_key) for t in self.targets] for task in tasks]
        self._build_if_missing(state, texts)
        keys = [_text_key(t) for t in texts]
        answers: list[dict | list] = [SKIPPED for _ in tasks]
        kept = self._kept(state.version, keys)
        recognizers = [Recognizer(self.context.runtime.llm, self.context.runtime.embedder, target.types, library,
                                  self.context.settings.method())
                       for target, library in zip(self.targets, state.libraries, strict=True)]
        jobs = {}
        for i, (task, task_texts) in enumerate(zip(tasks, texts, strict=True)):
            if not any(task_texts):
                answers[i] = prediction([], state.version)  # nothing to find: no text in the task
            elif kept[i] is not None:
                answers[i] = kept[i]
            else:
                work = partial(self._predict_task, task.get("id"), task_texts, recognizers, state.version, keys[i])
                jobs[i] = self.context.pending.submit(f"{self.project}:{state.version}:{keys[i]}", work,
                                                      partial(self._finish_late, task.get("id"), state.version))
        failed = late = 0
        for i, outcome in zip(jobs, self.context.pending.collect(list(jobs.values()), deadline), strict=True):
            if outcome is None:
                late += 1
            elif outcome.error is not None:
                failed += 1
                log.warning("project %s, task %s: no prediction: %s", self.project, tasks[i].get("id"), outcome.error)
            else:
                answers[i] = outcome.prediction
        self.context.metrics.add(predict_tasks=len(tasks), predict_failed_tasks=failed, predict_late_tasks=late,
                                 predict_kept_tasks=sum(k is not None for k in kept))
        if late or len(tasks) > 1:
            log.info("project %s: %d tasks in %.1fs (%s): %d answered, %d failed, %d go on in the background",
                     self.project, len(tasks), time.monotonic() - started, state.version,
                     len(tasks) - failed - late, failed, late)
        return answers

    def _predict_task(self, task_id, texts: list[str | None], recognizers: list[Recognizer], version: str,
                      key: str) -> dict:
        results, confidences = [], []
        for target, recognizer, value in zip(self.targets, recognizers, texts, strict=True):
            if not value:
                continue
            text = self.read_text(target, value)
            found = recognizer.recognize([text])[0]
            if found.error:
                raise TaskFailed(found.error)
            for problem in found.problems:
                log.warning("project %s, task %s: %s", self.project, task_id, problem)
            results.extend(to_results(text, found.spans, target.from_name, target.to_name))
            confidences.append(found.score)
        answer = prediction(results, version, weakest(confidences))
        try:
            self.context.store.save_prediction(self.project, version, key, answer,
                                               self.context.settings.prediction_ttl)
        except RedisError as err:
            log.warning("Redis unreachable (%s): task %s's prediction not kept", type(err).__name__, task_id)
        return answer

    def read_text(self, target: NerTarget, value: str) -> str:
        """The task's text; for valueType="url", read through Label Studio's API with the project's
        credentials, as Label Studio's own backends do (uploads, local storage, other hosts)."""
        if not target.by_url:
            return value
        client = self.context.ls_client(self.project)
        if client is None:
            raise TaskFailed(f"the text is behind a URL (valueType=url) and the backend has no Label Studio "
                             "credentials: set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY, or connect it from a project")
        try:
            return client.read_text(value)
        except LabelStudioError as err:
            raise TaskFailed(str(err)) from err

    def _kept(self, version: str, keys: list[str]) -> list[dict | None]:
        try:
            return self.context.store.predictions(self.project, version, keys)
        except RedisError:
            return [None for _ in keys]

    def _finish_late(self, task_id, version: str, outcome: Outcome) -> None:
        """A task finished after its request's deadline: write it into Label Studio if we can."""
        if outcome.error is not None:
            self.context.metrics.add(predict_failed_tasks=1)
            log.warning("project %s, task %s: no prediction (in the background): %s", self.project, task_id,
                        outcome.error)
            return
        client = self.context.ls_client(self.project)
        if client is None or task_id is None:
            return  # kept: the next request for it answers at once
        try:
            client.create_prediction(task_id, outcome.prediction)
            self.context.metrics.add(predictions_written_back=1)
        except LabelStudioError as err:
            log.warning("project %s, task %s: prediction kept but not written to Label Studio: %s",
                        self.project, task_id, err)

    # --- builds ---
    def _build_if_missing(self, state: ModelState, texts: list[list[str | None]]) -> None:
        try:
            for index, (target, key) in enumerate(zip(self.targets, self.keys(), strict=True)):
                if state.missing[index]:
                    if not target.by_url:  # URLs are no texts to build from; the build reads them
                        self.context.store.remember_texts(self.project, [t[index] for t in texts if t[index]],
                                                          self.context.settings.max_seen_texts)
                    self.schedule_build(index, key)
        except RedisError as err:  # predicting matters more than building; the next request retries
            log.warning("Redis unreachable (%s): library build not scheduled", type(err).__name__)

    def schedule_build(self, index: int, key: str, force: bool = False) -> bool:
        """Enqueue a library build unless one is queued or running, or a failed one waits out its
        backoff; True if one was enqueued."""
        store = self.context.store
        status = store.status(self.project, key) or {}
        now = time.time()
        if not force:
            state = status.get("state")
            if state == "running" and store.build_lock(self.project, key, 1).locked():
                return False
            if state == "queued" and now - status.get("at", 0) < _STALE_QUEUED:
                return False
            if state == "failed" and now < status.get("retry_at", 0):
                return False
        store.set_status(self.project, key, "queued", attempts=status.get("attempts", 0))
        self.context.jobs.enqueue("builds", BUILD_JOB, self.project, self.label_config, index, force)
        return True

    # --- fit: webhook events ---
    def fit(self, event: str, data: dict, **kwargs) -> dict:
        """Apply one webhook event to the library; returns what changed."""
        every = self.context.settings.version_every
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
                    removed += self.context.store.delete_human(self.project, _example_id(annotation, target), every)
            return {"deleted": removed}
        if event == "START_TRAINING":
            self.context.store.new_generation(self.project)
            return {"builds": sum(self.schedule_build(i, k, force=True) for i, k in enumerate(self.keys()))}
        return {"ignored": event}

    def _learn(self, annotation: dict, task: dict) -> int:
        if annotation.get("was_cancelled") or "id" not in annotation:
            return 0
        stored = 0
        for target in self.targets:
            value = _text(task, target.value_key)
            if not value:
                log.warning("annotation %s: task has no text in data.%s", annotation["id"], target.value_key)
                continue
            try:
                text = self.read_text(target, value)
            except TaskFailed as err:  # kept in the spool and tried again: a correction is never dropped
                raise LabelStudioError(f"annotation {annotation['id']}: {err}") from err
            regions = [r for r in annotation.get("result") or []
                       if isinstance(r, dict) and r.get("from_name") == target.from_name]
            spans = tuple(spans_from_results(text, regions, target.types))
            example = Example(_example_id(annotation, target), text, spans, "human")
            vector = self.context.runtime.embedder.embed([text])[0]
            stored += self.context.store.upsert_human(self.project, example, vector, _stamp(annotation),
                                                      self.context.settings.version_every)
        return stored


def _text(task: dict, key: str) -> str | None:
    data = task.get("data") if isinstance(task, dict) else None
    text = data.get(key) if isinstance(data, dict) else None
    return text if isinstance(text, str) and text.strip() else None


def _text_key(texts: list[str | None]) -> str:
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()[:32]


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
