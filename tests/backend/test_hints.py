"""CORRECTION_HINTS through the HTTP API: the names annotators corrected are listed in every prompt."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from backend.app import create_app
from backend.cli import app
from backend.services import set_services

from .test_memory import predict, submit, wrong_about_paris_and_may

HINTS = "This project's annotators corrected these names"


def follows_hints(body: dict) -> str:
    """The fake LLM wrong about Paris and May, but one that reads its instructions: a name listed as
    labeled with a type is named so wherever the text holds it (as a larger model might)."""
    reply = json.loads(wrong_about_paris_and_may(body))
    text = body["messages"][-1]["content"]
    if not text.startswith("Text: "):
        return json.dumps(reply)
    for label, names in re.findall(r"^- labeled (\S+): (.+)$", body["messages"][0]["content"], re.M):
        reply["entities"] += [{"text": n, "type": label} for n in names.split(", ") if n in text]
    return json.dumps(reply)


def recognitions(services) -> list[dict]:
    return [b for b in services.llm_server.requests if b["messages"][-1]["content"].startswith("Text: ")]


def test_corrected_names_are_listed_in_every_later_prompt_and_the_version_says_so(services_for):
    services = services_for(follows_hints, correction_hints=3, name_memory=False, human_demonstrations=0)
    client = create_app(services).test_client()
    text = "Zorblat met Bob in Vexmoor in May."
    predict(client, text)  # pre-annotated: Bob, and May as a person
    submit(client, services, 1, text, [("Bob", "PER"), ("Vexmoor", "LOC")])
    before = len(recognitions(services))
    [after] = predict(client, "Floods reached Vexmoor again in May.")  # unlike the corrected text
    system = recognitions(services)[before]["messages"][0]["content"]
    assert f"{HINTS} in earlier answers:\n- labeled LOC: Vexmoor\n- not an entity: May" in system
    # Neither the memory of names nor the correction as a demonstration is on: the LLM read the hint
    # (this fake follows only the labeled ones).
    assert {(r["value"]["text"], r["value"]["labels"][0]) for r in after["result"]} == {("Vexmoor", "LOC"),
                                                                                        ("May", "PER")}
    assert ".h" in after["model_version"]
    assert client.get("/thresholds?project=9").get_json()["hints"] == {
        "per_type": 3, "labeled": {"LOC": ["Vexmoor"]}, "deleted": ["May"]}
    set_services(services)
    shown = CliRunner().invoke(app, ["learned", "-p", "9"])
    assert shown.exit_code == 0
    assert "names listed in every prompt (CORRECTION_HINTS): 3\n  labeled LOC: Vexmoor\n  not an entity: May" in \
        shown.output


def test_accepted_names_are_no_hint_and_names_annotators_disagree_on_are_withheld(services_for):
    services = services_for(follows_hints, correction_hints=3)
    client = create_app(services).test_client()
    for i, label in enumerate(("LOC", "ORG"), start=1):
        text = f"Bob sailed to Vexmoor on day {i}."
        predict(client, text)
        submit(client, services, i, text, [("Bob", "PER"), ("Vexmoor", label)])
    assert client.get("/thresholds?project=9").get_json()["hints"]["labeled"] == {}
    [after] = predict(client, "Floods reached Vexmoor.")
    assert ".h" not in after["model_version"] and HINTS not in recognitions(services)[-1]["messages"][0]["content"]


def test_hints_are_off_by_default_and_the_prompt_is_as_it_was(services_for):
    services = services_for(follows_hints)
    client = create_app(services).test_client()
    text = "Zorblat met Bob in Vexmoor."
    predict(client, text)
    submit(client, services, 1, text, [("Bob", "PER"), ("Vexmoor", "LOC")])
    [after] = predict(client, "Floods reached Vexmoor.")
    assert ".h" not in after["model_version"]
    assert all(HINTS not in b["messages"][0]["content"] for b in recognitions(services))
    assert client.get("/thresholds?project=9").get_json()["hints"] == {"per_type": 0, "labeled": {}, "deleted": []}
