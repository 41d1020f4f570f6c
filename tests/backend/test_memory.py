"""What annotators change teaches the next predictions: the project's memory of names, end to end
through the backend's HTTP API, with an LLM that makes systematic errors."""

from __future__ import annotations

import json

from backend.app import create_app
from backend.recall import NOTE
from reversener.devtools.fake_answers import answer

from .conftest import LABEL_CONFIG
from .test_api import payload, regions


def wrong_about_paris_and_may(body: dict) -> str:
    """The fake LLM, but it always calls Paris a person and the month May a person too."""
    reply = answer(body)
    text = body["messages"][-1]["content"]
    if not text.startswith("Text: "):
        return reply
    entities = [e | {"type": "PER"} if e["text"] == "Paris" else e for e in json.loads(reply)["entities"]]
    return json.dumps({"entities": entities + ([{"text": "May", "type": "PER"}] if " May" in text else [])})


def predict(client, *texts: str, context: dict | None = None) -> list[dict]:
    body = {"project": "9.1", "label_config": LABEL_CONFIG,
            "tasks": [{"id": 100 + i, "data": {"text": t}} for i, t in enumerate(texts)],
            "params": {"context": context}}
    return client.post("/predict", json=body).get_json()["results"]


def submit(client, services, annotation_id: int, text: str, labeled: list[tuple[str, str]],
           action: str = "ANNOTATION_CREATED", stamp: str = "2026-12-07T10:00:00.000000Z",
           origin: str | None = "prediction-changed") -> None:
    """An annotator's submission as Label Studio 1.23.2 sends it: each region with its origin (none
    with `origin` None, as an annotation imported by hand)."""
    event = payload("annotation_created")
    event["action"] = action
    event["project"]["id"] = 9
    event["task"] = {"id": annotation_id, "data": {"text": text}, "project": 9}
    result = []
    for name, label in labeled:
        start = text.index(name)
        result.append({"id": f"r{len(result)}", "from_name": "label", "to_name": "text", "type": "labels",
                       "value": {"start": start, "end": start + len(name), "text": name, "labels": [label]}}
                      | ({} if origin is None else {"origin": origin}))
    event["annotation"] |= {"id": annotation_id, "task": annotation_id, "project": 9, "result": result,
                            "created_at": stamp, "updated_at": stamp}
    assert client.post("/webhook", json=event).status_code == 201
    services.jobs.drain()


def memory(client) -> dict[str, tuple[str, int]]:
    return {n["name"]: (n["label"], n["corrections"]) for n in client.get("/memory?project=9").get_json()["names"]}


def test_a_retyped_name_is_right_in_the_next_task_and_says_where_it_comes_from(services_for):
    services = services_for(wrong_about_paris_and_may)
    client = create_app(services).test_client()
    [first] = predict(client, "Anna lives in Paris.")
    assert regions(first) == {("Anna", "PER"), ("Paris", "PER")}
    submit(client, services, 1, "Anna lives in Paris.", [("Anna", "PER"), ("Paris", "LOC")])
    [after] = predict(client, "Bob flew to Paris and back to Paris.")
    assert [(r["value"]["text"], r["value"]["labels"][0]) for r in after["result"]] == [
        ("Bob", "PER"), ("Paris", "LOC"), ("Paris", "LOC")]
    remembered = [r for r in after["result"] if r["value"]["text"] == "Paris"]
    assert all(r["meta"] == {"text": [NOTE]} and r["score"] == 1.0 for r in remembered)
    assert ".n" in after["model_version"] and after["model_version"] != first["model_version"]
    assert memory(client) == {"Anna": ("PER", 1), "Paris": ("LOC", 1)}
    counts = client.get("/metrics").get_json()["backend"]
    assert counts["memory_regions"] == 2 and counts["correction_regions_retyped"] == 1


def test_a_kept_prediction_is_served_again_with_what_the_memory_learned_without_asking_the_llm(services_for):
    services = services_for(wrong_about_paris_and_may)
    client = create_app(services).test_client()
    predict(client, "Bob flew to Paris.")
    services.jobs.drain()  # the library the first request started is built: what later requests use
    [before] = predict(client, "Bob flew to Paris.")
    assert regions(before) == {("Bob", "PER"), ("Paris", "PER")} and before["model_version"].startswith("reversener-")
    submit(client, services, 1, "Anna lives in Paris.", [("Anna", "PER"), ("Paris", "LOC")])
    asked = len(services.llm_server.requests)
    [again] = predict(client, "Bob flew to Paris.")
    assert regions(again) == {("Bob", "PER"), ("Paris", "LOC")}
    assert len(services.llm_server.requests) == asked


def test_a_name_annotators_deleted_from_the_prediction_is_not_predicted_again(services_for):
    services = services_for(wrong_about_paris_and_may)
    client = create_app(services).test_client()
    [first] = predict(client, "Anna came in May.")
    assert regions(first) == {("Anna", "PER"), ("May", "PER")}
    submit(client, services, 1, "Anna came in May.", [("Anna", "PER")])  # May deleted
    assert memory(client) == {"Anna": ("PER", 1), "May": ("", 1)}
    [after] = predict(client, "Maria left in May.")
    assert regions(after) == {("Maria", "PER")}
    assert client.get("/metrics").get_json()["backend"]["correction_regions_deleted"] == 1


def test_inconsistent_labels_are_withheld_replays_count_once_and_deleted_annotations_are_forgotten(services_for):
    services = services_for(wrong_about_paris_and_may)
    client = create_app(services).test_client()
    submit(client, services, 1, "Paris is big.", [("Paris", "LOC")])
    submit(client, services, 1, "Paris is big.", [("Paris", "LOC")])  # Label Studio sent it twice
    assert memory(client) == {"Paris": ("LOC", 1)}
    submit(client, services, 2, "Paris smiled.", [("Paris", "PER")])  # Paris Hilton, say
    assert memory(client) == {}  # 1 of 2: below MEMORY_AGREEMENT
    [after] = predict(client, "Bob met Paris.")
    assert regions(after) == {("Bob", "PER"), ("Paris", "PER")} and "meta" not in after["result"][1]
    deleted = {"action": "ANNOTATIONS_DELETED", "project": {"id": 9, "label_config": LABEL_CONFIG},
               "annotations": [{"id": 2}]}
    assert client.post("/webhook", json=deleted).status_code == 201
    services.jobs.drain()
    assert memory(client) == {"Paris": ("LOC", 1)}


def test_an_update_replaces_the_annotations_votes(services_for):
    services = services_for(wrong_about_paris_and_may)
    client = create_app(services).test_client()
    submit(client, services, 1, "Paris is big.", [("Paris", "PER")])
    later = "2026-12-07T11:00:00.000000Z"
    submit(client, services, 1, "Paris is big.", [("Paris", "LOC")], "ANNOTATION_UPDATED", later)
    assert memory(client) == {"Paris": ("LOC", 1)}


def test_the_memory_can_be_turned_off(services_for):
    services = services_for(wrong_about_paris_and_may, name_memory=False)
    client = create_app(services).test_client()
    submit(client, services, 1, "Anna lives in Paris.", [("Anna", "PER"), ("Paris", "LOC")])
    [after] = predict(client, "Bob flew to Paris.")
    assert regions(after) == {("Bob", "PER"), ("Paris", "PER")} and ".n" not in after["model_version"]


def test_interactive_pre_annotation_labels_every_other_occurrence_of_the_annotators_names(services_for):
    services = services_for(answer)
    client = create_app(services).test_client()
    text = "Zorblat Qu spoke first. Later Zorblat Qu spoke again."
    context = {"result": [{"from_name": "label", "to_name": "text", "type": "labels", "origin": "manual",
                           "value": {"start": 0, "end": 10, "text": "Zorblat Qu", "labels": ["PER"]}}]}
    [plain] = predict(client, text)
    assert regions(plain) == set()  # the fake knows no Zorblat Qu
    [interactive] = predict(client, text, context=context)
    assert [(r["value"]["start"], r["value"]["labels"][0]) for r in interactive["result"]] == [(0, "PER"), (30, "PER")]
    assert memory(client) == {}  # a draft teaches nothing until it is submitted


def test_a_paragraph_correction_is_stored_per_chunk_and_removed_whole(services_for):
    services = services_for(answer, max_chunk_chars=100)
    client = create_app(services).test_client()
    text = ("Anna met Bob in Paris on a cold day in the early spring of that year. "
            "Zorblat Qu joined them later at the station near the river bank. "
            "They all went to Oslo by train the next morning, tired but happy.")
    submit(client, services, 7, text, [("Anna", "PER"), ("Zorblat Qu", "PER"), ("Oslo", "LOC")])
    parts = sorted(services.store.human_examples("9"), key=lambda e: e.id)
    assert [e.id for e in parts] == ["ann-7@label#0", "ann-7@label#1", "ann-7@label#2"]
    assert [[(e.text[s.start:s.end], s.label) for s in e.spans] for e in parts] == [
        [("Anna", "PER")], [("Zorblat Qu", "PER")], [("Oslo", "LOC")]]
    deleted = {"action": "ANNOTATIONS_DELETED", "project": {"id": 9, "label_config": LABEL_CONFIG},
               "annotations": [{"id": 7}]}
    assert client.post("/webhook", json=deleted).status_code == 201
    services.jobs.drain()
    assert services.store.human_examples("9") == [] and memory(client) == {}


def test_a_correction_is_stored_with_how_many_of_the_models_regions_it_changed(services_for):
    services = services_for(wrong_about_paris_and_may)
    client = create_app(services).test_client()
    predict(client, "Anna lives in Paris.", "Anna came in May.")
    submit(client, services, 1, "Anna lives in Paris.", [("Anna", "PER"), ("Paris", "LOC")])  # Paris retyped
    submit(client, services, 2, "Anna came in May.", [("Anna", "PER"), ("May", "PER")])  # all kept
    submit(client, services, 3, "Bo saw Rome.", [("Bo", "PER"), ("Rome", "LOC")], origin=None)  # never predicted
    fixes = {e.id: e.fixes for e in services.store.human_examples("9")}
    assert fixes == {"ann-1@label": 1, "ann-2@label": 0, "ann-3@label": 0}  # unknown counts as nothing fixed
