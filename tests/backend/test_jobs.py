"""Background jobs: one build at a time per key, expired locks, RQ workers, whole-project pre-labeling."""

from __future__ import annotations

import signal
import threading
import time

from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker

import backend.worker as worker_module

from backend.context import QUEUE, JobQueue, set_context
from backend.ls_api import LabelStudioClient
from backend.jobs import build_library_job, webhook_job
from backend.model import ReverseNERModel
from backend.prelabel import prelabel_job, prelabel_page_job, prelabel_project
from backend.worker import run_worker
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_label_studio import FakeLabelStudio
from reversener.devtools.fake_openai import Reply

from .conftest import LABEL_CONFIG
from .test_api import payload


class InlineWorker(worker_module.PromptUnsubscribe, SimpleWorker):
    """RQ's worker that runs each job in this process, where the test set the context."""


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
        assert rq_queue.jobs[0].retries_left == 3  # run again if its worker dies in the middle of it
        InlineWorker([rq_queue], connection=redis_client).work(burst=True)
        assert [e.id for e in context.store.human_examples("7")] == ["ann-501@label"]
    finally:
        rq_queue.empty()


def test_prelabel_posts_one_prediction_per_task_in_batches(context):
    texts = [f"Bob met Anna in Oslo, day {i}." for i in range(7)]
    seen, totals = [], []
    with FakeLabelStudio(LABEL_CONFIG, texts, project="7") as ls:
        counts = prelabel_project(context, "7", LabelStudioClient(ls.url, ls.token), batch_size=3,
                                  progress=seen.append, on_total=totals.append)
    assert counts == {"tasks": 7, "predictions": 7, "entities": 21, "failed": 0, "kept": 0}
    assert list(ls.posted) == list(range(1, 8)) and seen == [3, 3, 1] and totals == [7]
    assert all(len(p) == 1 and p[0]["model_version"] and len(p[0]["result"]) == 3 for p in ls.posted.values())


def test_prelabel_builds_the_library_first_and_posts_nothing_for_a_failed_task(context_for):
    def respond(body):
        prompt = body["messages"][-1]["content"]
        return Reply(status=500) if prompt.startswith("Text: ") and "Oslo" in prompt else answer(body)

    context = context_for(respond, llm_retries=0, predict_deadline=0.01)  # prelabel waits, whatever the deadline
    with FakeLabelStudio(LABEL_CONFIG, ["Bob met Anna.", "Bob left Oslo.", "Anna is in Rome."], project="7") as ls:
        client = LabelStudioClient(ls.url, ls.token)
        context.ls_client = lambda project: client  # the build reads the project's texts through it
        said = []
        counts = prelabel_project(context, "7", client, batch_size=2, say=said.append)
        assert said == ["project 7: building the example library first (minutes with a local model)"]
        assert counts == {"tasks": 3, "predictions": 2, "entities": 4, "failed": 1, "kept": 0}
        assert list(ls.posted) == [1, 3]
        assert all(p[0]["model_version"].startswith("reversener-") for p in ls.posted.values())
        context.llm_server.responder = answer  # the LLM is back: a rerun retries the failed task only
        again = prelabel_project(context, "7", client, batch_size=2)
    assert again == {"tasks": 3, "predictions": 1, "entities": 2, "failed": 0, "kept": 2}
    assert {task: len(p) for task, p in ls.posted.items()} == {1: 1, 3: 1, 2: 1}


def test_a_build_with_no_texts_yet_is_failed_and_waits_for_some(context):
    set_context(context)
    assert build_library_job("7", LABEL_CONFIG, 0) == "failed"
    status = context.store.status("7", _model(context).keys()[0])
    assert status["state"] == "failed" and "no task texts" in status["error"]


def test_the_worker_starts_again_when_redis_drops_it(context, monkeypatch):
    """RQ's worker exits when Redis closes its connection between jobs, and its creation fails while
    Redis is still away (both seen in the topology test)."""
    started = []

    class DroppedOnce:
        def __init__(self, queues, **options):
            started.append(options)
            if len(started) == 2:  # CLIENT SETNAME, while Redis restarts
                raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        def work(self, burst, with_scheduler):
            if len(started) == 1:
                raise RedisConnectionError("Connection closed by server.")

    monkeypatch.setattr(worker_module, "StoppableWorker", DroppedOnce)
    monkeypatch.setattr(worker_module.time, "sleep", lambda seconds: None)
    run_worker(context, burst=True)
    assert len(started) == 3
    assert started[0]["maintenance_interval"] == context.settings.worker_maintenance_seconds


def test_the_worker_goes_on_after_an_error_rq_swallowed_and_stops_only_when_asked(context, monkeypatch):
    """RQ's work loop ends quietly on any error: when Redis drops it and is back before the loop's
    teardown, `work()` returns as after a stop (the topology test's worker died so in CI)."""
    loops = []

    def check_for_suspension(self, burst):
        loops.append(self.name)
        if len(loops) == 1:
            raise RedisConnectionError("Connection closed by server.")
        self.request_stop(signal.SIGTERM, None)  # what RQ's SIGTERM handler does

    monkeypatch.setattr(worker_module.StoppableWorker, "check_for_suspension", check_for_suspension)
    monkeypatch.setattr(worker_module.StoppableWorker, "_start_scheduler", lambda self, *args: None)  # no fork
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        run_worker(context)  # not burst: it returns only because of the stop
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert len(loops) == 2 and loops[0] != loops[1]  # a second worker after the error, stopped by request
    assert time.monotonic() - started < 30  # not a minute per teardown, waiting for the pubsub thread


def test_background_prelabel_enqueues_each_page_once_per_run_and_counts_it_once(context, redis_client):
    texts = [f"Bob met Anna in Oslo, day {i}." for i in range(5)]
    with FakeLabelStudio(LABEL_CONFIG, texts, project="7") as ls:
        context.settings.label_studio_url, context.settings.label_studio_api_key = ls.url, SecretStr(ls.token)
        context.__dict__["jobs"] = JobQueue(redis_client, inline=False)  # RQ, as with REDIS_URL
        set_context(context)
        rq_queue = Queue(QUEUE, connection=redis_client)
        try:
            assert prelabel_job("7", page_size=2) == {"run": "inline", "pages": 3}
            assert prelabel_job("7", page_size=2) == {"run": "inline", "pages": 3}  # a retried run adds no pages
            assert rq_queue.count == 3
            InlineWorker([rq_queue], connection=redis_client).work(burst=True)
        finally:
            rq_queue.empty()
        assert sorted(ls.posted) == [1, 2, 3, 4, 5] and all(len(p) == 1 for p in ls.posted.values())
        run = context.store.prelabel_run("7")
        assert run["pages"] == run["pages_done"] == 3 and (run["tasks"], run["predictions"], run["kept"]) == (5, 5, 0)
        assert not context.store.add_prelabel("7", "inline", 1, {"tasks": 2})  # a page that ran twice counts once
        assert prelabel_page_job("7", LABEL_CONFIG, "inline", 1, 2) == {  # and predicts nothing twice
            "tasks": 2, "predictions": 0, "entities": 0, "failed": 0, "kept": 2}
        assert context.store.prelabel_run("7")["tasks"] == 5
