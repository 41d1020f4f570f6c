"""What an annotator meets: a deadline on /predict, late tasks finished and written back, failures
that are never stored as predictions, honest library builds, and a model_version that does not
change on every correction."""

from __future__ import annotations

import json
import threading
import time

from backend.app import create_app
from backend.project import ProjectConfig
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import Reply

from .conftest import LABEL_CONFIG
from .test_api import payload, regions

TEXTS = [f"Anna met Bob in Oslo on day {i}." for i in range(6)]


def _body(texts, project="3.1"):
    return {"project": project, "label_config": LABEL_CONFIG,
            "tasks": [{"id": 100 + i, "data": {"text": t}} for i, t in enumerate(texts)]}


def _wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class RecordingLabelStudio:
    """Stands in for Label Studio's API client: records the predictions written back."""

    def __init__(self) -> None:
        self.posted: list[tuple[int, dict]] = []
        self._lock = threading.Lock()

    def create_prediction(self, task_id, prediction) -> None:
        with self._lock:
            self.posted.append((task_id, prediction))


def test_tasks_past_the_deadline_are_skipped_then_written_back_and_kept(services_for):
    services = services_for(answer, latency=0.4, predict_deadline=1.0, llm_concurrency=2)
    label_studio = RecordingLabelStudio()
    services.ls_client = lambda project: label_studio
    client = create_app(services).test_client()

    started = time.monotonic()
    first = client.post("/predict", json=_body(TEXTS)).get_json()
    assert time.monotonic() - started < 3.0  # the deadline, not the work, bounds the request
    answered = [r for r in first["results"] if r != []]
    assert len(first["results"]) == 6 and 0 < len(answered) < 6
    assert all(r["model_version"] == first["model_version"] for r in answered)
    assert all(regions(r) == {("Anna", "PER"), ("Bob", "PER"), ("Oslo", "LOC")} for r in answered)

    late = {100 + i for i, r in enumerate(first["results"]) if r == []}
    assert _wait_for(lambda: len(label_studio.posted) == len(late))
    assert {task for task, _ in label_studio.posted} == late  # each late task once, none answered twice
    assert all(p["model_version"] == first["model_version"] for _, p in label_studio.posted)

    calls = len(services.llm_server.requests)
    again = client.post("/predict", json=_body(TEXTS)).get_json()
    assert all(r != [] for r in again["results"])  # all kept: answered at once
    assert len(services.llm_server.requests) == calls
    metrics = client.get("/metrics").get_json()["backend"]
    assert metrics["predict_late_tasks"] == len(late) and metrics["predictions_written_back"] == len(late)


def test_a_task_asked_again_while_it_runs_is_computed_once(services_for):
    services = services_for(answer, latency=0.5, predict_deadline=0.2)
    client = create_app(services).test_client()
    body = _body(TEXTS[:1])
    assert client.post("/predict", json=body).get_json()["results"] == [[]]
    assert client.post("/predict", json=body).get_json()["results"] == [[]]
    assert _wait_for(lambda: client.post("/predict", json=body).get_json()["results"] != [[]])
    recognitions = [r for r in services.llm_server.requests if r["messages"][-1]["content"].startswith("Text: ")]
    assert len(recognitions) == 1


def test_a_down_llm_gives_no_prediction_and_the_next_click_predicts(services_for):
    down = {"on": True}
    services = services_for(lambda body: Reply(status=500) if down["on"] else answer(body), llm_retries=0)
    client = create_app(services).test_client()

    results = client.post("/predict", json=_body(TEXTS[:3])).get_json()["results"]
    assert results == [[], [], []]  # Label Studio stores nothing and asks again
    assert client.get("/metrics").get_json()["backend"]["predict_failed_tasks"] == 3

    down["on"] = False
    results = client.post("/predict", json=_body(TEXTS[:3])).get_json()["results"]
    assert all(regions(r) == {("Anna", "PER"), ("Bob", "PER"), ("Oslo", "LOC")} for r in results)


def test_an_answer_that_is_not_json_is_a_failure_and_an_empty_one_a_prediction(services_for, caplog):
    def respond(body):
        text = body["messages"][-1]["content"]
        if "Bob" in text:
            return "Sure! Bob is a person."
        if "nothing" in text:
            return json.dumps({"entities": []})
        return answer(body)

    client = create_app(services_for(respond)).test_client()
    results = client.post("/predict", json=_body(["Bob waved.", "There is nothing here.", "Anna sang."])).get_json()
    garbage, empty, found = results["results"]
    assert garbage == []
    assert empty["result"] == [] and empty["model_version"] == results["model_version"]
    assert regions(found) == {("Anna", "PER")}
    assert any("task 100: no prediction" in r.message and "no JSON" in r.message for r in caplog.records)


def test_a_build_during_an_outage_fails_saves_nothing_and_is_retried(services_for):
    down = {"on": True}

    def respond(body):
        text = body["messages"][-1]["content"]
        if down["on"] and not text.startswith("Text: "):  # predictions work, the build's calls fail
            return Reply(status=500)
        return answer(body)

    services = services_for(respond, llm_retries=0)
    client = create_app(services).test_client()
    first = client.post("/predict", json=payload("predict")).get_json()
    services.jobs.drain()
    key = ProjectConfig.parse("7", LABEL_CONFIG, services.settings).keys[0]
    status = services.store.status("7", key)
    assert status["state"] == "failed" and status["attempts"] == 1 and status["retry_at"] > time.time()
    assert services.store.library_meta("7", key) is None
    assert first["model_version"].startswith("zero-shot.m")

    down["on"] = False
    client.post("/predict", json=payload("predict"))  # within the backoff: not tried again
    services.jobs.drain()
    assert services.store.status("7", key)["state"] == "failed"

    services.store.set_status("7", key, "failed", attempts=1, retry_at=time.time() - 1)  # the backoff is over
    client.post("/predict", json=payload("predict"))
    services.jobs.drain()
    assert services.store.status("7", key)["state"] == "done"
    assert client.post("/predict", json=payload("predict")).get_json()["model_version"].startswith("reversener-")


def test_one_model_version_per_response_even_when_a_build_lands_mid_request(services_for):
    services = services_for(answer, latency=0.05)
    client = create_app(services).test_client()
    body = _body(TEXTS)
    body["project"] = "7.1"
    response = client.post("/predict", json=body).get_json()
    services.jobs.drain()
    assert {r["model_version"] for r in response["results"]} == {response["model_version"]}


def test_model_version_moves_every_n_corrections_and_on_start_training(services_for):
    services = services_for(answer, version_every=3, name_memory=False)  # the memory's part: test_memory.py
    client = create_app(services).test_client()

    def version():
        return client.post("/setup", json=payload("setup")).get_json()["model_version"]

    def correct(annotation_id):
        event = payload("annotation_created")
        event["annotation"]["id"] = annotation_id
        assert client.post("/webhook", json=event).status_code == 201
        services.jobs.drain()

    start = version()
    correct(1)
    correct(2)
    assert version() == start  # two corrections: predictions stay current in Label Studio
    correct(3)
    third = version()
    assert third != start and third.endswith(".g1")
    assert client.post("/webhook", json=payload("start_training")).status_code == 201
    services.jobs.drain()
    assert version().endswith(".g2")


def test_versions_lists_the_current_model_version(client):
    version = client.post("/setup", json=payload("setup")).get_json()["model_version"]
    assert client.get("/versions").get_json() == {"versions": [version]}
    assert client.get("/versions?project=7.1").get_json() == {"versions": [version]}


def test_deeply_nested_json_is_a_400_on_every_post_route(client):
    deep = "[" * 100_000 + "]" * 100_000
    for route in ("/setup", "/predict", "/webhook"):
        response = client.post(route, data=deep, content_type="application/json")
        assert response.status_code == 400, route
        assert "nested too deeply" in response.get_json()["message"]


def test_json_sent_as_text_plain_is_accepted(client):
    response = client.post("/predict", data=json.dumps(payload("predict")), content_type="text/plain")
    assert response.status_code == 200 and len(response.get_json()["results"]) == 3


def test_a_prediction_waits_for_the_build_call_in_flight_not_for_the_builds_batch(services_for):
    """On a one-slot LLM (the bundled model) a /predict that comes while a build's batch waits for the
    slot is served right after the build call in flight."""
    from backend.builds import build_library_now
    from backend.project import ProjectConfig

    building = threading.Event()

    def respond(body):
        if "names of type" in body["messages"][-1]["content"]:  # the build's first batch: one per type
            building.set()
        return answer(body)

    services = services_for(respond, latency=0.3, llm_concurrency=1)
    services.store.remember_texts("3", TEXTS, cap=100)
    config = ProjectConfig.parse("3", LABEL_CONFIG, services.settings)
    built = []
    build = threading.Thread(target=lambda: built.append(build_library_now(services, config, 0)),
                             daemon=True)
    build.start()
    assert building.wait(20)
    response = create_app(services).test_client().post("/predict", json=_body(["Maria is in Rome."]))
    [result] = response.get_json()["results"]
    build.join(30)
    services.jobs.drain()  # the build this /predict enqueued finds the library there
    assert regions(result) == {("Maria", "PER"), ("Rome", "LOC")}
    prompts = [body["messages"][-1]["content"] for body in services.llm_server.requests]
    first_build = next(i for i, prompt in enumerate(prompts) if "names of type" in prompt)
    asked = next(i for i, prompt in enumerate(prompts) if "Maria is in Rome." in prompt)
    assert asked <= first_build + 2, prompts  # not behind the three other types' calls
    assert built == ["built"]
