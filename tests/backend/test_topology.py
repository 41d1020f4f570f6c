"""The team topology, run for real on loopback: one redis-server (AOF on), two `reversener serve`
processes of two gunicorn workers each, two `reversener worker` processes, one scripted LLM endpoint
and a scripted Label Studio API. The tests run in order and share the stack."""

from __future__ import annotations

import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from redis import Redis
from rq import Worker

from backend.store import LibraryStore
from reversener.devtools import stack
from reversener.devtools.fake_answers import GAZETTEER, answer
from reversener.devtools.fake_label_studio import FakeLabelStudio
from reversener.devtools.fake_openai import FakeOpenAIServer

from .conftest import LABEL_CONFIG

TASKS = 1000
PROJECT = "1"


def _texts(n: int) -> list[str]:
    people, places, orgs = GAZETTEER["PER"], GAZETTEER["LOC"], GAZETTEER["ORG"]
    return [f"{people[i % 4]} met {orgs[i % 3]} staff in {places[i % 5]} on day {i}." for i in range(n)]


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    root = tmp_path_factory.mktemp("topology")
    with (stack.RedisServer(root / "redis") as redis_server, FakeOpenAIServer(answer) as llm,
          FakeLabelStudio(LABEL_CONFIG, _texts(TASKS), project=PROJECT) as ls):
        env = {"REDIS_URL": redis_server.url, "REDIS_PREFIX": f"topo-{uuid.uuid4().hex[:6]}",
               "LLM_MODEL": "openai/fake", "LLM_API_BASE": llm.api_base, "LLM_API_KEY": "sk-test", "LLM_CACHE": "false",
               "LABEL_STUDIO_URL": ls.url, "LABEL_STUDIO_API_KEY": ls.token, "FEATURE_SENTENCES": "3",
               "ENTITIES_PER_TYPE": "3", "WORKERS": "2", "REDIS_RETRY_AFTER": "1",
               "WORKER_HEARTBEAT_SECONDS": "2", "WORKER_MAINTENANCE_SECONDS": "2"}
        workers = [stack.worker(root / f"worker-{i}", env) for i in range(2)]
        try:
            with (stack.backend(_dir(root / "serve-0"), env) as first,
                  stack.backend(_dir(root / "serve-1"), env) as second):
                yield {"backends": [first, second], "workers": workers, "redis": redis_server, "llm": llm,
                       "ls": ls, "env": env, "root": root,
                       "store": LibraryStore(Redis.from_url(redis_server.url), env["REDIS_PREFIX"])}
        finally:
            for process in workers:
                stack.stop(process)


def _dir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def _predict(url: str, texts: list[str]) -> dict:
    tasks = [{"id": 5000 + i, "data": {"text": t}} for i, t in enumerate(texts)]
    response = httpx.post(f"{url}/predict", json={"project": f"{PROJECT}.1700000000", "label_config": LABEL_CONFIG,
                                                  "tasks": tasks}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _wait(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds:.0f}s: {what}")


def _prompts(llm, start: str) -> list[str]:
    return [b["messages"][-1]["content"] for b in list(llm.requests) if b["messages"][-1]["content"].startswith(start)]


def test_a_library_is_built_once_however_many_predicts_race_for_it(topology):
    backends = topology["backends"]
    with ThreadPoolExecutor(16) as pool:  # 4 gunicorn workers, none with the library, all asking at once
        answers = list(pool.map(lambda i: _predict(backends[i % 2], [f"Anna flew to Oslo, trip {i}."]), range(16)))
    assert all(a["results"][0]["result"] for a in answers)  # zero-shot meanwhile, nothing refused

    def built():
        version = _predict(backends[0], ["Bob is in Rome."])["model_version"]
        return version.startswith("reversener-") and version
    version = _wait(built, 120, "the library built by a worker")
    assert _predict(backends[1], ["Bob is in Paris."])["model_version"] == version
    # One build makes one template per feature sentence; a second build would have asked again.
    assert len(_prompts(topology["llm"], "Replace every name in the sentence")) == 3


def _annotation(annotation_id: int, text: str, name: str, label: str) -> dict:
    start = text.index(name)
    stamp = "2026-11-24T10:05:00.000000Z"
    return {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": annotation_id, "task": annotation_id, "was_cancelled": False, "created_at": stamp,
                       "updated_at": stamp, "result": [
                           {"id": f"r{annotation_id}", "from_name": "label", "to_name": "text", "type": "labels",
                            "value": {"start": start, "end": start + len(name), "text": name, "labels": [label]}}]},
        "task": {"id": annotation_id, "data": {"text": text}, "project": int(PROJECT)},
        "project": {"id": int(PROJECT), "label_config": LABEL_CONFIG},
    }


def test_a_correction_sent_to_one_backend_is_used_by_all_of_them(topology):
    first, second = topology["backends"]
    response = httpx.post(f"{first}/webhook", json=_annotation(901, "Zorblax hired Bob.", "Zorblax", "ORG"), timeout=10)
    assert response.status_code == 201
    _wait(lambda: topology["store"].human_examples(PROJECT), 60, "the correction applied by a worker")
    # Every gunicorn worker of both backends shows it as a demonstration from the next request on:
    # the scripted LLM learns names from the demonstrations it is shown.
    for i in range(8):
        found = _predict((first, second)[i % 2], [f"Zorblax opened an office, note {i}."])["results"][0]["result"]
        assert {(r["value"]["text"], r["value"]["labels"][0]) for r in found} == {("Zorblax", "ORG")}


def test_background_prelabel_spreads_over_workers_and_survives_a_killed_one(topology):
    ls, llm, env = topology["ls"], topology["llm"], topology["env"]
    llm.latency = 0.1  # pages take seconds, so a worker can be killed in the middle of one
    try:
        enqueue = stack.start([sys.executable, "-m", "backend", "prelabel", "-p", PROJECT, "--background"], env,
                              topology["root"] / "prelabel.log")
        assert enqueue.wait(120) == 0
        store = topology["store"]
        # Both workers take pages; one is killed in the middle of its page.
        victim = _wait(lambda: _mid_page(topology), 120, "both workers on pages, one in the middle of its page")
        # The worker and the page it runs, with no goodbye (RQ runs each job in a forked child of its own session).
        for process in [*psutil.Process(victim.pid).children(recursive=True), psutil.Process(victim.pid)]:
            process.kill()
        victim.wait()
        topology["workers"].remove(victim)  # either worker may be the one mid-page
        # Worst case: the job's heartbeat expires (30 + 60 s), the next maintenance finds it (60 s), the
        # dead worker's scheduler lock expires (61 s) before the retry's 10 s wait can end: about 4 minutes.
        run = _wait(lambda: (r := store.prelabel_run(PROJECT))["pages_done"] == r["pages"] and r, 420,
                    "every page done after the kill")
    finally:
        llm.latency = 0.0
    assert run["pages"] == TASKS // 100 and run["tasks"] == TASKS and run["failed"] == 0
    # The killed page ran again and skipped what it had posted before: some tasks were kept.
    assert run["kept"] > 0 and run["predictions"] + run["kept"] == TASKS
    assert sorted(ls.posted) == list(range(1, TASKS + 1))
    assert all(len(predictions) == 1 for predictions in ls.posted.values())  # each task exactly once


def _mid_page(topology):
    """When every worker runs a page: one that has posted some, not all, of its page; else None."""
    redis, ls = Redis.from_url(topology["env"]["REDIS_URL"]), topology["ls"]
    busy = {}
    for worker in Worker.all(connection=redis):
        job = worker.get_current_job()
        if job is not None and job.func_name.endswith("prelabel_page_job"):
            page = job.args[3]
            busy[worker.pid] = sum(task in ls.posted for task in range(page * 100 - 99, page * 100 + 1))
    if len(busy) < len(topology["workers"]):
        return None
    return next((p for p in topology["workers"] if 0 < busy.get(p.pid, 0) < 100), None)


def test_a_redis_restart_loses_no_human_example(topology):
    backends, redis_server, store = topology["backends"], topology["redis"], topology["store"]
    # the killed one's stand-in
    topology["workers"].append(stack.worker(topology["root"] / "worker-2", topology["env"]))
    before = {e.id for e in store.human_examples(PROJECT)}
    sent = []

    def send(i: int) -> None:
        text = f"Quillon{i} met Anna in Oslo."
        response = httpx.post(f"{backends[i % 2]}/webhook", json=_annotation(1000 + i, text, f"Quillon{i}", "PER"),
                              timeout=10)
        assert response.status_code == 201, response.text
        sent.append(f"ann-{1000 + i}@label")

    for i in range(5):
        send(i)
    redis_server.stop()
    for i in range(5, 10):  # while Redis is away: the backends keep them in their spools
        send(i)
    redis_server.start()
    for i in range(10, 15):
        send(i)
    expected = before | set(sent)
    # A correction whose worker lost Redis in the middle of it runs again once RQ finds it abandoned (~75 s).
    _wait(lambda: {e.id for e in store.human_examples(PROJECT)} == expected, 240,
          "every correction stored after the restart")
    redis_server.stop()  # and what is stored survives a second restart, from the append-only file
    redis_server.start()
    assert {e.id for e in store.human_examples(PROJECT)} == expected
    assert all(worker.poll() is None for worker in topology["workers"])  # every worker outlived it
    assert json.loads(httpx.get(f"{backends[0]}/health").text)["redis"] == "ok"
