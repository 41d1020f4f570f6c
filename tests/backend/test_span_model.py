"""The span model through the HTTP API: a type the LLM keeps missing is added where it wins."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from backend.app import create_app
from backend.cli import app
from backend.recall import SPAN_NOTE
from backend.services import set_services
from reversener.devtools.fake_answers import answer

from .test_memory import predict, submit

NATIONALITIES = ["Dutch", "Italian", "French", "Spanish", "Polish", "Danish", "Greek", "Irish", "Scottish", "Welsh",
                 "Belgian", "Austrian"]


def never_misc(body: dict) -> str:
    """The fake LLM, but it never names a MISC entity, whatever the demonstrations show it."""
    reply = json.loads(answer(body))
    if "entities" in reply and body["messages"][-1]["content"].startswith("Text: "):
        reply["entities"] = [e for e in reply["entities"] if isinstance(e, dict) and e.get("type") != "MISC"]
    return json.dumps(reply)


def correct_nationalities(client, services) -> None:
    for i, name in enumerate(NATIONALITIES):
        text = f"Yesterday the {name} fans cheered in Rome."
        predict(client, text)  # pre-annotated first, as in the editor
        submit(client, services, i + 1, text, [(name, "MISC"), ("Rome", "LOC")])


def test_a_type_the_llm_keeps_missing_is_added_by_the_span_model_and_says_so(services_for):
    services = services_for(never_misc, threshold_corrections=10, version_every=10)
    client = create_app(services).test_client()
    correct_nationalities(client, services)
    added = client.get("/metrics").get_json()["backend"]["span_model_regions"]  # to the 11th and 12th already
    # What the model is judged against next time is the prediction without its own regions.
    last = next(c for c in services.store.corrections("9") if c.parts[0].id == "ann-12@label")
    assert added and [[s.label for s in part] for part in last.predicted or []] == [["LOC"]]
    [after] = predict(client, "Yesterday the Swedish fans cheered in Oslo.")
    found = {(r["value"]["text"], r["value"]["labels"][0]): r for r in after["result"]}
    assert set(found) == {("Swedish", "MISC"), ("Oslo", "LOC")}
    assert found[("Swedish", "MISC")]["meta"] == {"text": [SPAN_NOTE]} and 0.5 <= found[("Swedish", "MISC")]["score"]
    assert "meta" not in found[("Oslo", "LOC")]
    assert ".s" in after["model_version"]
    assert client.get("/thresholds?project=9").get_json()["span_model"] == {"enabled": True, "types": ["MISC"]}
    counts = client.get("/metrics").get_json()["backend"]
    assert counts["span_model_regions"] == added + 1
    assert counts["span_types_adopted"] >= 1 and counts.get("span_types_rejected", 0) == 0  # MISC, the one missed
    set_services(services)
    shown = CliRunner().invoke(app, ["learned", "-p", "9"])
    assert shown.exit_code == 0 and "span model on: adds MISC where the LLM found nothing" in shown.output
    assert "not adopted" not in shown.output


def test_the_cli_names_the_types_the_span_model_judged_and_did_not_adopt(services_for, monkeypatch):
    import dataclasses

    import backend.versions

    services = services_for(never_misc, threshold_corrections=10, version_every=10)
    client = create_app(services).test_client()
    correct_nationalities(client, services)
    read_state = backend.versions.read_state

    def with_loc_judged(*args):
        state = read_state(*args)
        judged = dataclasses.replace(state.spans, candidates=state.spans.candidates | {"LOC"})
        return dataclasses.replace(state, spans=judged)

    monkeypatch.setattr(backend.versions, "read_state", with_loc_judged)
    set_services(services)
    shown = CliRunner().invoke(app, ["learned", "-p", "9"])
    assert shown.exit_code == 0 and "judged on held-out corrections and not adopted: LOC" in shown.output


def test_the_span_model_adds_nothing_before_enough_corrections_or_when_turned_off(services_for):
    services = services_for(never_misc, threshold_corrections=20, version_every=10)
    client = create_app(services).test_client()
    correct_nationalities(client, services)  # 12 corrections, fewer than 20
    [after] = predict(client, "Yesterday the Swedish fans cheered in Oslo.")
    assert {r["value"]["text"] for r in after["result"]} == {"Oslo"} and ".s" not in after["model_version"]

    services = services_for(never_misc, threshold_corrections=10, version_every=10, span_model=False)
    client = create_app(services).test_client()
    correct_nationalities(client, services)
    [after] = predict(client, "Yesterday the Swedish fans cheered in Oslo.")
    assert {r["value"]["text"] for r in after["result"]} == {"Oslo"}
    assert client.get("/thresholds?project=9").get_json()["span_model"] == {"enabled": False, "types": []}


def test_a_span_model_that_cannot_be_trained_leaves_predictions_as_they_were(services_for, monkeypatch, caplog):
    import backend.services

    def broken(*args, **kwargs):
        raise ValueError("no convergence")

    monkeypatch.setattr(backend.services, "learn_spans", broken)
    services = services_for(never_misc, threshold_corrections=10, version_every=10)
    client = create_app(services).test_client()
    correct_nationalities(client, services)
    [after] = predict(client, "Yesterday the Swedish fans cheered in Oslo.")
    assert {r["value"]["text"] for r in after["result"]} == {"Oslo"} and ".s" not in after["model_version"]
    assert "span model not trained" in caplog.text
