"""Background jobs: RQ workers, jobs stored by earlier versions, whole-project pre-labeling."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker

import backend.worker as worker_module
from backend.errors import LabelStudioError
from backend.job_queue import QUEUE, JobQueue
from backend.ls_api import LabelStudioClient
from backend.prelabel import prelabel_job, prelabel_page_job, prelabel_project
from backend.project import ProjectConfig
from backend.services import set_services
from backend.webhooks import webhook_job
from backend.worker import run_worker
from benchmarks.workflow import SPENT
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_label_studio import FakeLabelStudio
from reversener.devtools.fake_openai import Reply
from reversener.prompts import render

from .conftest import LABEL_CONFIG
from .test_api import payload


class InlineWorker(worker_module.PromptUnsubscribe, SimpleWorker):
    """RQ's worker that runs each job in this process, where the test set the services."""


def test_an_rq_worker_applies_queued_webhook_events(services, redis_client):
    set_services(services)
    queue = JobQueue(redis_client, inline=False)
    event = {"action": "ANNOTATION_CREATED", "project": "7", "label_config": LABEL_CONFIG,
             "data": payload("annotation_created")}
    queue.enqueue("webhooks", webhook_job, event)
    rq_queue = Queue(QUEUE, connection=redis_client)
    try:
        assert rq_queue.count == 1
        assert rq_queue.jobs[0].func_name == "backend.webhooks.webhook_job"  # where the worker finds it
        assert rq_queue.jobs[0].retries_left == 3  # run again if its worker dies in the middle of it
        InlineWorker([rq_queue], connection=redis_client).work(burst=True)
        assert [e.id for e in services.store.human_examples("7")] == ["ann-501@label"]
    finally:
        rq_queue.empty()


def test_jobs_stored_under_the_names_of_earlier_versions_still_run(services, redis_client):
    """Before the backend was split by concern, RQ stored these jobs as `backend.jobs.<name>`: a
    deployment upgraded while some wait in the queue still runs them."""
    set_services(services)
    services.store.remember_texts("7", ["Bob went to Oslo.", "Anna met Maria in Rome yesterday."], 100)
    event = {"action": "ANNOTATION_CREATED", "project": "7", "label_config": LABEL_CONFIG,
             "data": payload("annotation_created")}
    rq_queue = Queue(QUEUE, connection=redis_client)
    try:
        rq_queue.enqueue("backend.jobs.webhook_job", event)
        rq_queue.enqueue("backend.jobs.build_library_job", "7", LABEL_CONFIG, 0)
        InlineWorker([rq_queue], connection=redis_client).work(burst=True)
    finally:
        rq_queue.empty()
    assert [e.id for e in services.store.human_examples("7")] == ["ann-501@label"]
    key = ProjectConfig.parse("7", LABEL_CONFIG, services.settings).keys[0]
    assert services.store.status("7", key)["state"] == "done"


def test_prelabel_posts_one_prediction_per_task_in_batches(services):
    texts = [f"Bob met Anna in Oslo, day {i}." for i in range(7)]
    seen, totals = [], []
    with FakeLabelStudio(LABEL_CONFIG, texts, project="7") as ls:
        counts = prelabel_project(services, "7", LabelStudioClient(ls.url, ls.token), batch_size=3,
                                  progress=seen.append, on_total=totals.append)
    assert counts == {"tasks": 7, "predictions": 7, "entities": 21, "failed": 0, "kept": 0}
    assert list(ls.posted) == list(range(1, 8)) and seen == [3, 3, 1] and totals == [7]
    assert all(len(p) == 1 and p[0]["model_version"] and len(p[0]["result"]) == 3 for p in ls.posted.values())


def test_the_prelabel_command_says_what_the_llm_cost(services):
    from typer.testing import CliRunner

    from backend.cli import app

    set_services(services)
    with FakeLabelStudio(LABEL_CONFIG, [f"Bob met Anna in Oslo, day {i}." for i in range(4)], project="7") as ls:
        result = CliRunner().invoke(app, ["prelabel", "-p", "7", "--url", ls.url, "--api-key", ls.token])
    assert result.exit_code == 0, result.output
    assert "4 of 4 tasks predicted, 12 entities posted" in result.output
    stats = services.runtime.llm.stats.snapshot()
    built, asked = SPENT.findall(result.output)
    assert int(built[0]) > 0 and int(asked[0]) == 8  # the tasks: with demonstrations and zero-shot each
    assert int(built[0]) + int(asked[0]) == stats["calls"]
    assert int(built[1]) + int(asked[1]) == stats["prompt_tokens"]


def test_prelabel_posts_a_batch_while_the_next_one_is_predicted(services_for):
    """Posting to Label Studio overlaps the next batch's LLM calls: a first post that waits until the
    LLM is asked about the second batch would wait in vain if the two took turns."""
    second_batch_asked = threading.Event()

    def respond(body):
        if "day 2." in body["messages"][-1]["content"]:
            second_batch_asked.set()
        return answer(body)

    services = services_for(respond)
    overlapped = []
    with FakeLabelStudio(LABEL_CONFIG, [f"Bob met Anna in Oslo, day {i}." for i in range(4)], project="7") as ls:
        client = LabelStudioClient(ls.url, ls.token)
        post = client.create_prediction

        def post_after_the_next_batch_started(task_id, prediction):
            if task_id == 1:
                overlapped.append(second_batch_asked.wait(10))
            return post(task_id, prediction)

        client.create_prediction = post_after_the_next_batch_started  # type: ignore[method-assign]
        counts = prelabel_project(services, "7", client, batch_size=2)
    assert overlapped == [True] and counts["predictions"] == 4 and list(ls.posted) == [1, 2, 3, 4]


def test_prelabel_asks_about_the_next_batch_before_the_last_answer_of_one_arrives(services_for):
    """A batch's last, slow answer does not leave the LLM idle: the next batch is already asked. Were
    batches predicted in turn, the held answer would wait in vain and its task fail."""
    next_batch_asked = threading.Event()
    held = []

    def respond(body):
        asked = body["messages"][-1]["content"]
        if asked == render("recognize_user", text="Bob met Anna in Oslo, day 2."):
            next_batch_asked.set()
        if asked == render("recognize_user", text="Bob met Anna in Oslo, day 1."):
            held.append(next_batch_asked.wait(10))
        return answer(body)

    services = services_for(respond, llm_retries=0, combine_zero_shot=False)
    with FakeLabelStudio(LABEL_CONFIG, [f"Bob met Anna in Oslo, day {i}." for i in range(4)], project="7") as ls:
        counts = prelabel_project(services, "7", LabelStudioClient(ls.url, ls.token), batch_size=2)
    assert held == [True] and counts["predictions"] == 4 and list(ls.posted) == [1, 2, 3, 4]


def test_prelabel_stops_with_label_studios_error_when_a_post_is_refused(services):
    with FakeLabelStudio(LABEL_CONFIG, [f"Bob met Anna, day {i}." for i in range(6)], project="7") as ls:
        client = LabelStudioClient(ls.url, ls.token)

        def refuse(task_id, prediction):
            raise LabelStudioError("HTTP 403: the token may not post predictions")

        client.create_prediction = refuse  # type: ignore[method-assign]
        with pytest.raises(LabelStudioError, match="403"):
            prelabel_project(services, "7", client, batch_size=1)
        assert not ls.posted


def test_prelabel_builds_the_library_first_and_posts_nothing_for_a_failed_task(services_for):
    def respond(body):
        prompt = body["messages"][-1]["content"]
        return Reply(status=500) if prompt.startswith("Text: ") and "Oslo" in prompt else answer(body)

    services = services_for(respond, llm_retries=0, predict_deadline=0.01)  # prelabel waits, whatever the deadline
    with FakeLabelStudio(LABEL_CONFIG, ["Bob met Anna.", "Bob left Oslo.", "Anna is in Rome."], project="7") as ls:
        client = LabelStudioClient(ls.url, ls.token)
        services.ls_client = lambda project: client  # the build reads the project's texts through it
        said = []
        counts = prelabel_project(services, "7", client, batch_size=2, say=said.append)
        assert said == ["project 7: building the example library first (minutes with a local model)"]
        assert counts == {"tasks": 3, "predictions": 2, "entities": 4, "failed": 1, "kept": 0}
        assert list(ls.posted) == [1, 3]
        assert all(p[0]["model_version"].startswith("reversener-") for p in ls.posted.values())
        services.llm_server.responder = answer  # the LLM is back: a rerun retries the failed task only
        again = prelabel_project(services, "7", client, batch_size=2)
    assert again == {"tasks": 3, "predictions": 1, "entities": 2, "failed": 0, "kept": 2}
    assert {task: len(p) for task, p in ls.posted.items()} == {1: 1, 3: 1, 2: 1}


def test_the_worker_starts_again_when_redis_drops_it(services, monkeypatch):
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
    run_worker(services, burst=True)
    assert len(started) == 3
    assert started[0]["maintenance_interval"] == services.settings.worker_maintenance_seconds


def test_the_worker_goes_on_after_an_error_rq_swallowed_and_stops_only_when_asked(services, monkeypatch):
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
        run_worker(services)  # not burst: it returns only because of the stop
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert len(loops) == 2 and loops[0] != loops[1]  # a second worker after the error, stopped by request
    assert time.monotonic() - started < 30  # not a minute per teardown, waiting for the pubsub thread


def test_background_prelabel_enqueues_each_page_once_per_run_and_counts_it_once(services, redis_client):
    texts = [f"Bob met Anna in Oslo, day {i}." for i in range(5)]
    with FakeLabelStudio(LABEL_CONFIG, texts, project="7") as ls:
        services.settings.label_studio_url, services.settings.label_studio_api_key = ls.url, SecretStr(ls.token)
        services.__dict__["jobs"] = JobQueue(redis_client, inline=False)  # RQ, as with REDIS_URL
        set_services(services)
        rq_queue = Queue(QUEUE, connection=redis_client)
        try:
            assert prelabel_job("7", page_size=2) == {"run": "inline", "pages": 3}
            assert prelabel_job("7", page_size=2) == {"run": "inline", "pages": 3}  # a retried run adds no pages
            assert rq_queue.count == 3
            InlineWorker([rq_queue], connection=redis_client).work(burst=True)
        finally:
            rq_queue.empty()
        assert sorted(ls.posted) == [1, 2, 3, 4, 5] and all(len(p) == 1 for p in ls.posted.values())
        run = services.store.prelabel_run("7")
        assert run["pages"] == run["pages_done"] == 3 and (run["tasks"], run["predictions"], run["kept"]) == (5, 5, 0)
        assert not services.store.add_prelabel("7", "inline", 1, {"tasks": 2})  # a page that ran twice counts once
        assert prelabel_page_job("7", LABEL_CONFIG, "inline", 1, 2) == {  # and predicts nothing twice
            "tasks": 2, "predictions": 0, "entities": 0, "failed": 0, "kept": 2}
        assert services.store.prelabel_run("7")["tasks"] == 5
