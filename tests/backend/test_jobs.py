"""Background jobs: one build at a time per key, expired locks, RQ workers, whole-project pre-labeling."""

from __future__ import annotations

import threading
import time

from rq import Queue, SimpleWorker

from backend.context import QUEUE, JobQueue, set_context
from backend.jobs import build_library_job, webhook_job
from backend.model import ReverseNERModel
from backend.prelabel import prelabel_project
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import Reply

from .conftest import LABEL_CONFIG
from .test_api import payload


def _model(context) -> ReverseNERModel:
    model = ReverseNERModel("7", LABEL_CONFIG, context)
    model.setup()
    return model


def test_two_concurrent_builders_build_once(context, llm_server):
    set_context(context)
    context.store.remember_texts("7", ["Bob went to Oslo.", "Anna met Maria in Rome yesterday."], 100)
    llm_server.latency = 0.05  # long enough for the builds to overlap
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(build_library_job("7", LABEL_CONFIG, 0)))
               for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        llm_server.latency = 0.0
    assert sorted(outcomes) == ["another build of this library is running", "built"]
    key = _model(context).keys()[0]
    assert context.store.status("7", key)["state"] == "done" and context.store.revision("7") == 1


def test_a_lock_left_by_a_dead_builder_expires(context):
    set_context(context)
    context.store.remember_texts("7", ["Anna met Bob in Oslo.", "Reuters said so in Paris."], 100)
    key = _model(context).keys()[0]
    dead = context.store.build_lock("7", key, seconds=1)
    assert dead.acquire()  # its holder "dies" without releasing
    assert build_library_job("7", LABEL_CONFIG, 0) == "another build of this library is running"
    time.sleep(1.2)
    assert build_library_job("7", LABEL_CONFIG, 0) == "built"


def test_an_rq_worker_applies_queued_webhook_events(context, redis_client):
    set_context(context)
    queue = JobQueue(redis_client, inline=False)
    event = {"action": "ANNOTATION_CREATED", "project": "7", "label_config": LABEL_CONFIG,
             "data": payload("annotation_created")}
    queue.enqueue("webhooks", webhook_job, event)
    rq_queue = Queue(QUEUE, connection=redis_client)
    try:
        assert rq_queue.count == 1
        SimpleWorker([rq_queue], connection=redis_client).work(burst=True)
        assert [e.id for e in context.store.human_examples("7")] == ["ann-501@label"]
    finally:
        rq_queue.empty()


class FakeLabelStudio:
    """The two calls prelabel makes, against an in-memory project."""

    def __init__(self, texts):
        self.tasks = [{"id": i + 1, "data": {"text": t}} for i, t in enumerate(texts)]
        self.posted = []

    def project(self, project):
        return {"label_config": LABEL_CONFIG, "task_number": len(self.tasks)}

    def count_tasks(self, project):
        return len(self.tasks)

    def iter_tasks(self, project, page_size=100):
        yield from self.tasks

    def create_prediction(self, task_id, prediction):
        self.posted.append((task_id, prediction))


def test_prelabel_posts_one_prediction_per_task_in_batches(context):
    texts = [f"Bob met Anna in Oslo, day {i}." for i in range(7)]
    client = FakeLabelStudio(texts)
    seen, totals = [], []
    counts = prelabel_project(context, "7", client, batch_size=3, progress=seen.append, on_total=totals.append)
    assert counts == {"tasks": 7, "predictions": 7, "entities": 21, "failed": 0, "kept": 0}
    assert [task for task, _ in client.posted] == list(range(1, 8)) and seen == [3, 3, 1] and totals == [7]
    assert all(p["model_version"] and len(p["result"]) == 3 for _, p in client.posted)


def test_prelabel_builds_the_library_first_and_posts_nothing_for_a_failed_task(context_for):
    def respond(body):
        prompt = body["messages"][-1]["content"]
        return Reply(status=500) if prompt.startswith("Text: ") and "Oslo" in prompt else answer(body)

    context = context_for(respond, llm_retries=0, predict_deadline=0.01)  # prelabel waits, whatever the deadline
    client = FakeLabelStudio(["Bob met Anna.", "Bob left Oslo.", "Anna is in Rome."])
    context.ls_client = lambda project: client  # the build reads the project's texts through it
    said = []
    counts = prelabel_project(context, "7", client, batch_size=2, say=said.append)
    assert said == ["project 7: building the example library first (minutes with a local model)"]
    assert counts == {"tasks": 3, "predictions": 2, "entities": 4, "failed": 1, "kept": 0}
    assert all(p["model_version"].startswith("reversener-") for _, p in client.posted)
    assert [task for task, _ in client.posted] == [1, 3]
    for task_id, prediction in client.posted:  # as Label Studio lists them now
        client.tasks[task_id - 1]["predictions_model_versions"] = prediction["model_version"]
    client.posted.clear()
    context.llm_server.responder = answer  # the LLM is back: a rerun retries the failed task only
    again = prelabel_project(context, "7", client, batch_size=2)
    assert again == {"tasks": 3, "predictions": 1, "entities": 2, "failed": 0, "kept": 2}
    assert [task for task, _ in client.posted] == [2]


def test_a_build_with_no_texts_yet_is_failed_and_waits_for_some(context):
    set_context(context)
    assert build_library_job("7", LABEL_CONFIG, 0) == "failed"
    status = context.store.status("7", _model(context).keys()[0])
    assert status["state"] == "failed" and "no task texts" in status["error"]
