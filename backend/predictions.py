"""Predicting a request's tasks under its deadline. Each task runs on the process's prediction
threads; the LLM's answer is kept in Redis per version and text, so a later request answers at once,
and is served through the memory of names (`recall`); a task done after its request's deadline is
written back to Label Studio when the backend has the project's credentials."""

from __future__ import annotations

import logging
import time
from functools import partial

from redis.exceptions import RedisError

from reversener.confidence import weakest
from reversener.labelstudio import prediction, to_results
from reversener.recognizer import Recognizer

from .builds import build_missing
from .errors import LabelStudioError, TaskFailed
from .pending import Outcome
from .project import ProjectConfig
from .recall import context_memory, recall
from .services import Services
from .texts import read_text, task_text, text_key
from .versions import ModelState

__all__ = ["Predictor", "SKIPPED"]

log = logging.getLogger(__name__)

# Label Studio 1.23 stores nothing for a task whose answer is an empty list of predictions, and
# asks for it again next time; a shorter `results` list would make it ask task by task instead.
SKIPPED: list = []


class Predictor:
    """Predicts one project's tasks with one ModelState: one model_version for the whole request."""

    def __init__(self, services: Services, config: ProjectConfig, state: ModelState,
                 context: dict | None = None) -> None:
        """`context`: Label Studio's, whose `result` (an interactive pre-annotation) holds the regions
        the annotator has drawn so far."""
        self.services, self.config, self.state, self.context = services, config, state, context

    def predict(self, tasks: list[dict], deadline: float | None) -> list[dict | list]:
        """One answer per task, in order: a prediction, or SKIPPED for a task that failed or was
        not done by the monotonic `deadline` (None waits for all). Late tasks finish in the
        background, are kept for the next request, and are written back to Label Studio."""
        started = time.monotonic()
        texts = [[task_text(task, t.value_key) for t in self.config.targets] for task in tasks]
        build_missing(self.services, self.config, self.state.missing, texts)
        keys = [text_key(t) for t in texts]
        kept = self._kept(keys)
        answers: list[dict | list] = [SKIPPED for _ in tasks]
        for i, (task_texts, held) in enumerate(zip(texts, kept, strict=True)):
            if not any(task_texts):
                answers[i] = prediction([], self.state.version)  # nothing to find: no text in the task
            elif held is not None:
                answers[i] = self._served(held, task_texts, keys[i])
        todo = [i for i, task_texts in enumerate(texts) if any(task_texts) and kept[i] is None]
        failed, late = self._run(tasks, texts, keys, todo, deadline, answers)
        self.services.metrics.add(predict_tasks=len(tasks), predict_failed_tasks=failed, predict_late_tasks=late,
                                  predict_kept_tasks=sum(k is not None for k in kept))
        if late or len(tasks) > 1:
            log.info("project %s: %d tasks in %.1fs (%s): %d answered, %d failed, %d go on in the background",
                     self.config.project, len(tasks), time.monotonic() - started, self.state.version,
                     len(tasks) - failed - late, failed, late)
        return answers

    def _run(self, tasks: list[dict], texts: list[list[str | None]], keys: list[str], todo: list[int],
             deadline: float | None, answers: list[dict | list]) -> tuple[int, int]:
        """Predict the tasks at `todo` into `answers` until the deadline; (failed, late) counts."""
        project, version, pending = self.config.project, self.state.answers_version, self.services.pending
        recognizers = [Recognizer(self.services.runtime.llm, self.services.runtime.embedder, target.types, library,
                                  self.services.settings.method(), self.state.cover, self.state.hints)
                       for target, library in zip(self.config.targets, self.state.libraries, strict=True)]
        jobs = [pending.submit(f"{project}:{version}:{keys[i]}",
                               partial(self._predict_task, tasks[i].get("id"), texts[i], recognizers, keys[i]),
                               partial(self._finish_late, tasks[i].get("id")))
                for i in todo]
        failed = late = 0
        for i, outcome in zip(todo, pending.collect(jobs, deadline), strict=True):
            if outcome is None:
                late += 1
            elif outcome.error is not None or outcome.prediction is None:
                failed += 1
                log.warning("project %s, task %s: no prediction: %s", project, tasks[i].get("id"), outcome.error)
            else:
                answers[i] = outcome.prediction
        return failed, late

    def _predict_task(self, task_id: int | None, texts: list[str | None], recognizers: list[Recognizer],
                      key: str) -> dict:
        results, confidences = [], []
        for target, recognizer, value in zip(self.config.targets, recognizers, texts, strict=True):
            if not value:
                continue
            text = read_text(self.services, self.config.project, target, value)
            found = recognizer.recognize([text])[0]
            if found.error:
                raise TaskFailed(found.error)
            for problem in found.problems:
                log.warning("project %s, task %s: %s", self.config.project, task_id, problem)
            results.extend(to_results(text, found.spans, target.from_name, target.to_name))
            confidences.append(found.score)
        answer = prediction(results, self.state.answers_version, weakest(confidences))
        return self._served(answer, texts, key, fresh=True)

    def _served(self, answer: dict, texts: list[str | None], key: str, fresh: bool = False) -> dict:
        """The LLM's answer as served now: with the thresholds learned per type, the memory of names,
        and the names the annotator has labeled in the task. A fresh answer is kept, and what is
        served is remembered with its answer where it is new, so a correction can be compared with
        what the annotator saw and with the scores the LLM gave."""
        memories = [m for m in (self.state.memory, context_memory(self.context, texts, self.config.targets)) if m]
        served, counts = recall(answer, texts, self.config.targets, self.state.version, memories, self.state.thresholds,
                                self.state.spans)
        self.services.metrics.add(**counts)
        if fresh or any(counts.values()):
            try:
                self.services.store.save_served(self.config.project, key, served, answer,
                                                self.services.settings.prediction_ttl,
                                                self.state.answers_version if fresh else None)
            except RedisError as err:
                log.warning("Redis unreachable (%s): a prediction not kept", type(err).__name__)
        return served

    def _kept(self, keys: list[str]) -> list[dict | None]:
        try:
            return self.services.store.predictions(self.config.project, self.state.answers_version, keys)
        except RedisError:
            return [None for _ in keys]

    def _finish_late(self, task_id: int | None, outcome: Outcome) -> None:
        """A task finished after its request's deadline: write it into Label Studio if we can."""
        project = self.config.project
        if outcome.error is not None or outcome.prediction is None:
            self.services.metrics.add(predict_failed_tasks=1)
            log.warning("project %s, task %s: no prediction (in the background): %s", project, task_id,
                        outcome.error)
            return
        client = self.services.ls_client(project)
        if client is None or task_id is None:
            return  # kept: the next request for it answers at once
        try:
            client.create_prediction(task_id, outcome.prediction)
            self.services.metrics.add(predictions_written_back=1)
        except LabelStudioError as err:
            log.warning("project %s, task %s: prediction kept but not written to Label Studio: %s",
                        project, task_id, err)
