"""The ML-backend protocol through Flask's test client, with the bodies Label Studio 1.23 sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import LABEL_CONFIG

PAYLOADS = Path(__file__).resolve().parents[1] / "data" / "ls"


def payload(name: str) -> dict:
    raw = (PAYLOADS / f"{name}.json").read_text("utf-8")
    return json.loads(raw.replace('"__LABEL_CONFIG__"', json.dumps(LABEL_CONFIG)))


def regions(prediction: dict) -> set[tuple[str, str]]:
    return {(r["value"]["text"], r["value"]["labels"][0]) for r in prediction["result"]}


def test_health_reports_up_and_redis(client):
    body = client.get("/health").get_json()
    assert body["status"] == "UP" and body["redis"] == "ok"


def test_setup_answers_a_model_version_and_builds_nothing(client, services, llm_server):
    calls = len(llm_server.requests)
    response = client.post("/setup", json=payload("setup"))
    assert response.status_code == 200
    assert response.get_json()["model_version"].startswith("zero-shot")
    services.jobs.drain()
    assert len(llm_server.requests) == calls
    assert services.credentials["7"] == ("http://localhost:8080", "not-a-real-token")


def test_predict_answers_one_prediction_per_task_in_order(client):
    response = client.post("/predict", json=payload("predict"))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert len(results) == 3
    assert regions(results[0]) == {("Angela Merkel", "PER"), ("Siemens", "ORG"), ("Berlin", "LOC")}
    assert regions(results[2]) == {("Reuters", "ORG"), ("Bob", "PER"), ("Oslo", "LOC")}
    for result in results:
        assert result["model_version"].startswith("zero-shot.m")  # until the library is built
        for region in result["result"]:
            assert region["from_name"] == "label" and region["to_name"] == "text" and region["type"] == "labels"
            assert 0 < region["score"] <= 1


def test_first_predict_builds_the_library_then_predictions_use_it(client, services):
    client.post("/predict", json=payload("predict"))
    services.jobs.drain()  # the build ran in the background
    response = client.post("/predict", json=payload("predict"))
    version = response.get_json()["results"][0]["model_version"]
    assert version.startswith("reversener-")
    status = services.store.status("7", _key(services.settings))
    assert status["state"] == "done" and status["kept"] > 0 and status["texts"] == 3


def test_setup_after_a_build_reports_the_library_version(client, services):
    client.post("/predict", json=payload("predict"))
    services.jobs.drain()
    version = client.post("/setup", json=payload("setup")).get_json()["model_version"]
    assert version.startswith("reversener-")


def test_a_task_without_text_gets_an_empty_prediction_and_the_rest_theirs(client):
    body = payload("predict")
    body["tasks"][1]["data"] = {"other": "field"}
    body["tasks"].append({"id": 9, "data": {"text": 42}})
    body["tasks"].append({"id": 10, "data": {"text": "   "}})
    results = client.post("/predict", json=body).get_json()["results"]
    assert len(results) == 5
    assert [len(r["result"]) for r in results[1:2] + results[3:]] == [0, 0, 0]
    assert regions(results[0]) and regions(results[2])


def test_params_null_and_missing_label_config_after_setup(client):
    client.post("/setup", json=payload("setup"))
    body = payload("predict")
    body["params"] = None
    del body["label_config"]
    assert client.post("/predict", json=body).status_code == 200


def test_bad_requests_get_json_errors(client):
    not_json = client.post("/predict", data="{oops", content_type="application/json")
    assert not_json.status_code == 400 and "not JSON" in not_json.get_json()["message"]
    not_object = client.post("/predict", json=[1, 2])
    assert not_object.status_code == 400 and "object" in not_object.get_json()["message"]
    no_tasks = client.post("/predict", json={"project": "7.1", "label_config": LABEL_CONFIG})
    assert no_tasks.status_code == 422 and "'tasks'" in no_tasks.get_json()["message"]
    no_schema = client.post("/setup", json={"project": "7.1"})
    assert no_schema.status_code == 422 and "'schema'" in no_schema.get_json()["message"]
    no_labels = client.post("/setup", json={"project": "7.1", "schema": '<View><Text name="t" value="$t"/></View>'})
    assert no_labels.status_code == 422 and "<Labels>" in no_labels.get_json()["message"]
    unknown = client.get("/nope")
    assert unknown.status_code == 404 and unknown.get_json()["status"] == "error"


def test_a_correction_becomes_a_demonstration_for_the_next_prediction(client, services, llm_server):
    novel = {"project": "7.1", "label_config": LABEL_CONFIG,
             "tasks": [{"id": 1, "data": {"text": "Zorblat Qu was seen near Vexmoor Co again."}}]}
    before = client.post("/predict", json=novel).get_json()["results"][0]
    assert regions(before) == set()  # the fake knows neither name

    assert client.post("/webhook", json=payload("annotation_created")).status_code == 201
    services.jobs.drain()
    [human] = services.store.human_examples("7")
    assert human.id == "ann-501@label" and human.source == "human"
    assert [(human.text[s.start:s.end], s.label) for s in human.spans] == [("Zorblat Qu", "PER"), ("Vexmoor Co", "ORG")]

    novel["tasks"] = [{"id": 2, "data": {"text": "Zorblat Qu left Vexmoor Co in May."}}]
    after = client.post("/predict", json=novel).get_json()["results"][0]
    assert regions(after) == {("Zorblat Qu", "PER"), ("Vexmoor Co", "ORG")}
    # The answers' version moves only every VERSION_EVERY corrections; the memory's part (.n) when it
    # learns a name, so Label Studio asks again for tasks it holds predictions of, answered from Redis.
    assert after["model_version"].startswith(before["model_version"] + ".n")
    asked = [" ".join(m["content"] for m in r["messages"]) for r in llm_server.requests
             if "Zorblat Qu left Vexmoor Co" in r["messages"][-1]["content"]]
    assert any("Zorblat Qu was hired by Vexmoor Co" in prompt for prompt in asked)  # the few-shot request


def test_the_project_token_is_never_stored(client, services, redis_client):
    client.post("/webhook", json=payload("annotation_created"))
    services.jobs.drain()
    readers = {"string": lambda key: [redis_client.get(key)], "hash": redis_client.hvals,
               "set": lambda key: list(redis_client.smembers(key))}
    for key in redis_client.scan_iter(f"{services.settings.redis_prefix}:*"):
        values = readers.get(redis_client.type(key).decode(), lambda key: [])(key)
        assert all(b"secret-project-token" not in v for v in values)


def test_repeated_and_late_webhooks_are_idempotent(client, services):
    created = payload("annotation_created")
    client.post("/webhook", json=created)
    client.post("/webhook", json=created)
    services.jobs.drain()
    revision = services.store.revision("7")
    older = json.loads(json.dumps(created))
    older["action"] = "ANNOTATION_UPDATED"
    older["annotation"]["updated_at"] = "2026-11-24T09:00:00Z"
    older["annotation"]["result"] = []
    client.post("/webhook", json=older)
    services.jobs.drain()
    assert services.store.revision("7") == revision  # nothing changed
    assert len(services.store.human_examples("7")[0].spans) == 2


def test_delete_removes_the_example_and_a_late_create_cannot_revive_it(client, services):
    client.post("/webhook", json=payload("annotation_created"))
    client.post("/webhook", json=payload("annotations_deleted"))
    services.jobs.drain()
    assert services.store.human_examples("7") == []
    client.post("/webhook", json=payload("annotation_created"))
    services.jobs.drain()
    assert services.store.human_examples("7") == []


def test_cancelled_annotations_and_unknown_actions_change_nothing(client, services):
    cancelled = payload("annotation_created")
    cancelled["annotation"]["was_cancelled"] = True
    client.post("/webhook", json=cancelled)
    unknown = payload("annotation_created")
    unknown["action"] = "PROJECT_UPDATED"
    assert client.post("/webhook", json=unknown).status_code == 201
    services.jobs.drain()
    assert services.store.human_examples("7") == [] and services.store.revision("7") == 0


def test_start_training_builds_a_library(client, services):
    client.post("/setup", json=payload("setup"))
    services.store.remember_texts("7", [t["data"]["text"] for t in payload("predict")["tasks"]], 100)  # seen before
    client.post("/webhook", json=payload("start_training"))
    services.jobs.drain()
    assert services.store.library_meta("7", _key(services.settings)) is not None


def test_metrics_count_requests(client):
    client.post("/predict", json=payload("predict"))
    body = client.get("/metrics").get_json()
    assert body["backend"]["predict_tasks"] == 3 and body["llm"]["calls"] >= 3


def _key(settings) -> str:
    from backend.label_config import parse_label_config
    from backend.project import library_key

    return library_key(settings, parse_label_config(LABEL_CONFIG)[0])


def test_a_setting_the_build_does_not_read_keeps_the_library_and_changes_the_model_version(services):
    from backend.project import method_tag

    settings = services.settings

    def tuned(**changes):
        return settings.model_copy(update=changes)

    for use_time in ({"min_score": 0.5}, {"combine_zero_shot": False}, {"demonstrations": 2}):
        assert _key(tuned(**use_time)) == _key(settings) and method_tag(tuned(**use_time)) != method_tag(settings)
    assert _key(tuned(feature_sentences=8)) != _key(settings)  # the build reads it
    # Verifying templates recognizes during the build: then every setting is the build's.
    verifying = tuned(verify_templates=True)
    assert _key(verifying) != _key(verifying.model_copy(update={"min_score": 0.5}))


def test_huge_texts_get_bounded_partial_predictions(client, llm_server):
    one_mb = ("Angela Merkel met officials of Siemens in Berlin on Monday. " * 17_000)[:1_000_000]
    ten_mb = "x" * 10_000_000  # no spaces and no sentence ends: cut hard into chunks
    body = {"project": "7.1", "label_config": LABEL_CONFIG,
            "tasks": [{"id": 1, "data": {"text": one_mb}}, {"id": 2, "data": {"text": ten_mb}},
                      {"id": 3, "data": {"text": "Bob is in Oslo."}}]}
    calls = len(llm_server.requests)
    results = client.post("/predict", json=body).get_json()["results"]
    assert len(results) == 3 and regions(results[2]) == {("Bob", "PER"), ("Oslo", "LOC")}
    assert len(results[0]["result"]) == 3 * 64  # the first 64 chunks (a sentence each) of the 1 MB text
    assert all(r["value"]["end"] <= 1_000_000 for r in results[0]["result"])
    recognitions = [r for r in llm_server.requests[calls:] if r["messages"][0]["role"] == "system"]
    assert len(recognitions) == 64 + 64 + 1  # the library build runs beside it: not counted


def test_region_and_prediction_scores_are_the_llms_token_probabilities(services_for):
    import math
    import re

    from backend.app import create_app
    from reversener.devtools.fake_answers import answer
    from reversener.devtools.fake_openai import Reply

    def unsure_of_siemens(body):
        text = answer(body)
        tokens = [(t, -1.2 if t == "Siemens" else 0.0 if t in {"ORG", "LOC", "PER"} else -0.1)
                  for t in re.findall(r"\w+|\s+|[^\w\s]", text)]
        return Reply([text], logprobs=[tokens])

    services = services_for(unsure_of_siemens)
    results = create_app(services).test_client().post("/predict", json=payload("predict")).get_json()["results"]
    scores = {r["value"]["text"]: r["score"] for r in results[0]["result"]}
    assert scores == {"Angela Merkel": round(math.exp(-0.3), 4), "Siemens": round(math.exp(-1.2), 4),
                      "Berlin": round(math.exp(-0.1), 4)}  # the product over "Angela", " ", "Merkel"
    # The answer's least likely token, times its least sure region: sorted ascending, this task comes first.
    assert results[0]["score"] == round(math.exp(-1.2) * math.exp(-1.2), 4)
    weakest = min(r["score"] for r in results[2]["result"])
    assert results[2]["score"] == pytest.approx(math.exp(-0.1) * weakest, abs=1e-3)
    assert results[0]["score"] < min(r["score"] for r in results[1:])
    # Every recognition call asks for them (the library build, running beside, asks without: its
    # calls may reach the server first).
    asked = [r for r in services.llm_server.requests if r["messages"][-1]["content"].startswith("Text: ")]
    assert len(asked) >= 3 and all(r["logprobs"] is True for r in asked)


def test_a_predict_costs_two_redis_round_trips_and_one_per_task_it_predicts(client, services, monkeypatch):
    client.post("/predict", json=payload("predict"))
    services.jobs.drain()  # the library built and loaded: what a warm backend holds
    client.post("/predict", json=payload("predict"))
    trips = []
    redis, pipeline = services.redis, type(services.redis.pipeline())
    command, execute = redis.execute_command, pipeline.execute

    def counted_command(*args, **options):
        trips.append(args[0])
        return command(*args, **options)

    def counted_pipeline(self, *args, **options):
        if self.connection_pool is redis.connection_pool:  # not a thread of an earlier test's services
            trips.append("PIPELINE")
        return execute(self, *args, **options)

    monkeypatch.setattr(redis, "execute_command", counted_command)
    monkeypatch.setattr(pipeline, "execute", counted_pipeline)
    body = payload("predict")
    for i, task in enumerate(body["tasks"]):
        task["data"]["text"] += f" New text {i}."
    client.post("/predict", json=body)
    # The counters and library states (one pipeline), the kept predictions (MGET), and each new prediction
    # kept with what was served (one pipeline each).
    assert sorted(trips) == ["MGET", "PIPELINE", "PIPELINE", "PIPELINE", "PIPELINE"]
    trips.clear()
    client.post("/predict", json=body)  # all kept now: nothing is written
    assert sorted(trips) == ["MGET", "PIPELINE"]
