"""Thresholds per type learned from corrections, through the backend's HTTP API: an LLM that adds an
unsure, wrong region to every answer stops being served it once annotators have deleted enough."""

from __future__ import annotations

import json
import math
import re

import pytest
from typer.testing import CliRunner

from backend.app import create_app
from backend.cli import app
from backend.services import set_services
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import Reply

from .test_api import regions
from .test_memory import predict, submit

TOKENS = re.compile(r"\w+|\s+|[^\w\s]")  # how the scripted server splits an answer into tokens


def unsure_about_days(body: dict) -> str | Reply:
    """The fake LLM, but it also calls each `dayN` a location, with probability 0.3."""
    text = body["messages"][-1]["content"]
    day = re.search(r"\bday\d+\b", text)
    if not text.startswith("Text: ") or not day:
        return answer(body)
    reply = json.dumps({"entities": [*json.loads(answer(body))["entities"], {"text": day.group(), "type": "LOC"}]})
    tokens = [(t, math.log(0.3) if t == day.group() else 0.0) for t in TOKENS.findall(reply)]
    return Reply(answers=[reply], logprobs=[tokens])


def correct_25_tasks(client, services) -> None:
    for i in range(25):
        text = f"Anna met Bob on day{i}."
        [served] = predict(client, text)
        assert regions(served) == {("Anna", "PER"), ("Bob", "PER"), (f"day{i}", "LOC")}
        submit(client, services, 700 + i, text, [("Anna", "PER"), ("Bob", "PER")])  # the day deleted


def test_a_type_whose_unsure_regions_annotators_delete_is_served_without_them(services_for):
    services = services_for(unsure_about_days)
    client = create_app(services).test_client()
    [before] = predict(client, "Anna met Bob on day98 in Oslo.")
    assert ("day98", "LOC") in regions(before) and ".t" not in before["model_version"]
    correct_25_tasks(client, services)
    learned = client.get("/thresholds?project=9").get_json()
    assert learned == {"project": "9", "enabled": True, "min_score": 0.25, "corrections": 25, "min_corrections": 25,
                       "raised": {"LOC": 0.35}, "missed_types": [], "coverage_demonstrations": 0,
                       "span_model": {"enabled": True, "types": []},
                       "hints": {"per_type": 0, "labeled": {}, "deleted": []}}
    [after] = predict(client, "Anna met Bob on day99 in Oslo.")
    assert regions(after) == {("Anna", "PER"), ("Bob", "PER"), ("Oslo", "LOC")}  # a sure location stays
    assert ".t" in after["model_version"]
    counts = client.get("/metrics").get_json()["backend"]
    assert counts["threshold_dropped"] >= 1
    # Learned once, at the 25th correction: LOC raised, PER weighed and left.
    assert (counts["thresholds_adopted"], counts["thresholds_rejected"]) == (1, 1)
    set_services(services)
    shown = CliRunner().invoke(app, ["learned", "-p", "9"])
    assert shown.exit_code == 0, shown.output
    assert "'day3' -> not an entity (100% of 1 corrections)" in shown.output
    assert "25 corrections with the LLM's answer" in shown.output
    assert "LOC: regions scored below 0.35 are dropped" in shown.output
    assert "weighed and left at MIN_SCORE: PER" in shown.output


def test_learn_thresholds_off_serves_every_region(services_for):
    services = services_for(unsure_about_days, learn_thresholds=False)
    client = create_app(services).test_client()
    correct_25_tasks(client, services)
    assert client.get("/thresholds?project=9").get_json()["enabled"] is False
    [after] = predict(client, "Anna met Bob on day99 in Oslo.")
    assert ("day99", "LOC") in regions(after) and ".t" not in after["model_version"]


@pytest.mark.parametrize("coverage", [0, 1])
def test_a_type_the_model_misses_is_shown_in_every_prompt_once_corrections_show_it(services_for, coverage):
    """COVERAGE_DEMONSTRATIONS: the LLM never answers MISC; after 3 corrections that add it, a text is
    asked with one of them beside it, though no nearest-correction quota would show it."""
    asked: list[list[str]] = []

    def never_misc(body: dict) -> str:
        text = body["messages"][-1]["content"]
        if "names of type MISC:" in text:
            return json.dumps({"entities": []})  # nor does the library: no generated example shows MISC
        if not text.startswith("Text: "):
            return answer(body)
        asked.append([m["content"] for m in body["messages"]])
        return json.dumps({"entities": [e for e in json.loads(answer(body))["entities"] if e["type"] != "MISC"]})

    services = services_for(never_misc, coverage_demonstrations=coverage, human_demonstrations=0,
                            combine_zero_shot=False)
    client = create_app(services).test_client()
    for i in range(3):
        text = f"Anna met German fans on day{i}."
        predict(client, text)
        submit(client, services, 800 + i, text, [("Anna", "PER"), ("German", "MISC")])
    asked.clear()
    [after] = predict(client, "Bob flew to Oslo.")
    assert (".cMISC" in after["model_version"]) == bool(coverage)
    assert client.get("/thresholds?project=9").get_json()["missed_types"] == ["MISC"]
    assert ("German fans" in " ".join(asked[0][1:-1])) == bool(coverage)
