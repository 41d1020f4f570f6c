"""Library builds, transition by transition (the diagram in backend/builds.py): scheduling queues a
build from each state that allows one, and a build ends done, failed or interrupted."""

from __future__ import annotations

import threading
import time

import pytest

import backend.builds as builds
from backend.builds import (
    STALE_QUEUED,
    build_library_job,
    build_library_now,
    build_missing,
    retry_delay,
    schedule_build,
)
from backend.project import ProjectConfig
from backend.services import set_services

from .conftest import LABEL_CONFIG

TEXTS = ["Bob went to Oslo.", "Anna met Maria in Rome yesterday."]


class RecordingQueue:
    """Stands in for the job queue: records the jobs scheduling enqueues instead of running them."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def enqueue(self, lane, job, *args, **kwargs) -> None:
        self.calls.append((lane, job, args))


@pytest.fixture
def config(services):
    return ProjectConfig.parse("7", LABEL_CONFIG, services.settings)


@pytest.fixture
def recorded(services):
    services.__dict__["jobs"] = RecordingQueue()
    yield services.jobs
    del services.__dict__["jobs"]  # the real queue again, which the fixture drains


def _status(services, config) -> dict:
    return services.store.status("7", config.keys[0])


def test_a_key_never_built_is_queued_with_the_build_job(services, config, recorded):
    assert schedule_build(services, config, 0)
    assert recorded.calls == [("builds", build_library_job, ("7", LABEL_CONFIG, 0, False))]
    assert _status(services, config)["state"] == "queued" and _status(services, config)["attempts"] == 0


def test_a_queued_build_is_queued_again_only_when_stale(services, config, recorded):
    assert schedule_build(services, config, 0)
    assert not schedule_build(services, config, 0)  # queued a moment ago: a job will take it
    services.store.set_status("7", config.keys[0], "queued", attempts=0, at=time.time() - STALE_QUEUED - 1)
    assert schedule_build(services, config, 0)  # no job started it: it was lost
    assert len(recorded.calls) == 2


def test_a_running_build_is_queued_again_only_once_its_lock_is_gone(services, config, recorded):
    lock = services.store.build_lock("7", config.keys[0], 60)
    assert lock.acquire()
    services.store.set_status("7", config.keys[0], "running", attempts=1)
    assert not schedule_build(services, config, 0)
    lock.release()  # its builder died without a word
    assert schedule_build(services, config, 0)
    assert _status(services, config)["attempts"] == 1


def test_a_failed_build_is_queued_again_after_its_backoff_keeping_its_attempts(services, config, recorded):
    key = config.keys[0]
    services.store.set_status("7", key, "failed", attempts=2, retry_at=time.time() + 60)
    assert not schedule_build(services, config, 0)
    services.store.set_status("7", key, "failed", attempts=2, retry_at=time.time() - 1)
    assert schedule_build(services, config, 0)
    assert _status(services, config) | {"at": 0} == {"state": "queued", "attempts": 2, "at": 0}


@pytest.mark.parametrize("state", ["done", "interrupted"])
def test_a_done_or_interrupted_key_is_queued_again(services, config, recorded, state):
    services.store.set_status("7", config.keys[0], state, attempts=1)
    assert schedule_build(services, config, 0)


def test_a_forced_build_is_queued_whatever_the_state(services, config, recorded):
    lock = services.store.build_lock("7", config.keys[0], 60)
    assert lock.acquire()
    services.store.set_status("7", config.keys[0], "running", attempts=1)
    try:
        assert schedule_build(services, config, 0, force=True)
    finally:
        lock.release()
    assert recorded.calls == [("builds", build_library_job, ("7", LABEL_CONFIG, 0, True))]


def test_a_request_schedules_the_missing_libraries_and_keeps_its_texts_to_build_from(services, config, recorded):
    build_missing(services, config, [False], [["Bob went home."]])
    assert recorded.calls == [] and services.store.seen_texts("7") == []
    build_missing(services, config, [True], [["Bob went home."], [None]])
    assert len(recorded.calls) == 1 and services.store.seen_texts("7") == ["Bob went home."]


def test_a_build_runs_then_is_done(services, config, monkeypatch):
    services.store.remember_texts("7", TEXTS, 100)
    seen = []
    read = builds.project_texts
    monkeypatch.setattr(builds, "project_texts", lambda *args: seen.append(_status(services, config)) or read(*args))
    assert build_library_now(services, config, 0) == "built"
    assert [(s["state"], s["attempts"]) for s in seen] == [("running", 1)]
    status = _status(services, config)
    assert status["state"] == "done" and status["texts"] == 2 and status["kept"] > 0
    assert services.store.library_meta("7", config.keys[0])["examples"] == status["kept"]


def test_a_build_whose_library_exists_is_done_without_building(services, config, llm_server):
    services.store.remember_texts("7", TEXTS, 100)
    assert build_library_now(services, config, 0) == "built"
    calls = len(llm_server.requests)
    assert build_library_now(services, config, 0) == "library exists"
    assert len(llm_server.requests) == calls and _status(services, config)["state"] == "done"


def test_a_build_with_no_texts_fails_and_backs_off_longer_each_time(services, config):
    assert build_library_now(services, config, 0) == "failed"
    first = _status(services, config)
    assert first["state"] == "failed" and first["attempts"] == 1 and "no task texts" in first["error"]
    assert first["retry_at"] == pytest.approx(time.time() + retry_delay(1), abs=5)
    assert build_library_now(services, config, 0) == "failed"
    second = _status(services, config)
    assert second["attempts"] == 2 and second["retry_at"] == pytest.approx(time.time() + retry_delay(2), abs=5)


def test_an_unexpected_error_fails_the_build_and_reaches_the_job_runner(services, config, monkeypatch):
    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(builds, "project_texts", broken)
    with pytest.raises(RuntimeError):  # RQ records it and retries the job
        build_library_now(services, config, 0)
    status = _status(services, config)
    assert status["state"] == "failed" and status["error"] == "RuntimeError: a bug"


def test_a_build_stopped_with_its_process_is_interrupted_not_failed(services, config, monkeypatch):
    services.store.set_status("7", config.keys[0], "queued", attempts=2)

    def stopped(*args):
        services.stopping.set()  # the process is asked to stop: its LLM calls are abandoned
        raise RuntimeError("the LLM client is closed")

    monkeypatch.setattr(builds, "project_texts", stopped)
    try:
        assert build_library_now(services, config, 0) == "interrupted"
    finally:
        services.stopping.clear()
    status = _status(services, config)
    assert status["state"] == "interrupted" and status["attempts"] == 2  # a stop is no failed attempt


def test_two_concurrent_builders_build_once(services, llm_server, config):
    set_services(services)
    services.store.remember_texts("7", TEXTS, 100)
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
    assert _status(services, config)["state"] == "done" and services.store.revision("7") == 1


def test_a_lock_left_by_a_dead_builder_expires(services, config):
    set_services(services)
    services.store.remember_texts("7", ["Anna met Bob in Oslo.", "Reuters said so in Paris."], 100)
    dead = services.store.build_lock("7", config.keys[0], seconds=1)
    assert dead.acquire()  # its holder "dies" without releasing
    assert build_library_job("7", LABEL_CONFIG, 0) == "another build of this library is running"
    time.sleep(1.2)
    assert build_library_job("7", LABEL_CONFIG, 0) == "built"


def test_the_backoff_doubles_from_30_seconds_up_to_30_minutes():
    assert [retry_delay(n) for n in (1, 2, 3, 6, 7, 20)] == [30, 60, 120, 960, 1800, 1800]
