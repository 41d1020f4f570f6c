"""What an annotator meets, timed: a real Label Studio, `reversener serve` with the bundled model (or
--llm-model), one click of Retrieve predictions on N tasks, and the time until every task holds a
prediction; then `reversener prelabel` on N other tasks with the backend stopped.

    .venv/bin/python -m benchmarks.workflow [--tasks 30]

Answers are not cached (LLM_CACHE=false) and DATA_DIR is fresh, so a rerun costs the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer

from reversener.devtools import stack
from reversener.evaluation import pick_sentences
from reversener.llm.local import ensure_bundled_model
from reversener.readers import read_conll
from reversener.settings import Settings

from .common import DATASETS, RESULTS, ROOT, llm_overrides, machine, write_json

LS_BIN = Path(os.environ.get("LABEL_STUDIO_BIN", ROOT / ".venv-ls" / "bin" / "label-studio"))
CONFIG = (ROOT / "label_config.xml").read_text("utf-8")


def _project(api: httpx.Client, title: str, texts: list[str]) -> int:
    project = api.post("/api/projects", json={"title": title, "label_config": CONFIG}).json()["id"]
    api.post(f"/api/projects/{project}/import", json=[{"text": t} for t in texts]).raise_for_status()
    return project


def _predicted(api: httpx.Client, project: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    for prediction in api.get("/api/predictions", params={"project": project}).json():
        counts[prediction["task"]] = counts.get(prediction["task"], 0) + 1
    return counts


def _until_all(api: httpx.Client, project: int, tasks: int, started: float, limit: float) -> float | None:
    while time.monotonic() - started < limit:
        if len(_predicted(api, project)) >= tasks:
            return time.monotonic() - started
        time.sleep(1)
    return None


def run(tasks: int = 30, llm_model: str | None = None, llm_api_base: str | None = None,
        limit: float = 1800) -> dict:
    sentences = pick_sentences(read_conll(DATASETS["wikigold"]), sample=2 * tasks, seed=0)
    texts = [s.text for s in sentences]
    env = {k.upper(): v for k, v in llm_overrides(llm_model, llm_api_base).items()}
    env["LLM_CACHE"] = "false"
    if not llm_model:  # the bundled model, assembled once in the default DATA_DIR
        env["LOCAL_MODEL_PATH"] = str(ensure_bundled_model(Settings().data_dir))
    with tempfile.TemporaryDirectory() as tmp, stack.label_studio(LS_BIN, Path(tmp)) as url:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Token {stack.LS_TOKEN}"}, timeout=600)
        env |= {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": stack.LS_TOKEN}
        data = Path(tmp) / "backend"
        data.mkdir()
        click_project = _project(api, "click", texts[:tasks])
        with stack.backend(data, env, start_timeout=600) as backend_url:
            api.post("/api/ml", json={"project": click_project, "url": backend_url, "title": "reversener"})
            started = time.monotonic()
            response = api.post(f"/api/dm/actions?id=retrieve_tasks_predictions&project={click_project}",
                                json={"selectedItems": {"all": True, "excluded": []}})
            click = {"click_seconds": time.monotonic() - started, "click_status": response.status_code,
                     "in_click": len(_predicted(api, click_project))}
            click["all_seconds"] = _until_all(api, click_project, tasks, started, limit)
            click["predictions_per_task"] = sorted(set(_predicted(api, click_project).values()))
            click["metrics"] = httpx.get(f"{backend_url}/metrics").json()["backend"]
        prelabel_project = _project(api, "prelabel", texts[tasks:])
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "backend", "prelabel", "--project", str(prelabel_project)],
                              env={**os.environ, **env, "DATA_DIR": str(data)}, capture_output=True, text=True)
        prelabel = {"seconds": time.monotonic() - started, "exit_code": done.returncode,
                    "predicted": len(_predicted(api, prelabel_project)), "output": done.stderr[-2000:]}
    result = {"machine": machine(), "tasks": tasks, "llm": llm_model or "bundled", "click": click,
              "prelabel": prelabel, "combine_zero_shot": Settings().combine_zero_shot}
    write_json(RESULTS / "workflow.json", result)
    return result


def main(
    tasks: Annotated[int, typer.Option(help="Tasks per project.")] = 30,
    llm_model: Annotated[str | None, typer.Option(help="A litellm model instead of the bundled one.")] = None,
    llm_api_base: Annotated[str | None, typer.Option(help="Its base URL.")] = None,
) -> None:
    """Time one Retrieve predictions click and a prelabel run against a real Label Studio."""
    result = run(tasks, llm_model, llm_api_base)
    click, prelabel = result["click"], result["prelabel"]
    all_seconds = "never" if click["all_seconds"] is None else f"{click['all_seconds']:.0f} s"
    print(f"click: answered in {click['click_seconds']:.1f} s (HTTP {click['click_status']}) with "
          f"{click['in_click']} of {tasks} tasks; every task held a prediction after {all_seconds}; "
          f"predictions per task {click['predictions_per_task']}")
    print(f"prelabel: {prelabel['predicted']} of {tasks} tasks in {prelabel['seconds']:.0f} s, "
          f"exit code {prelabel['exit_code']}")


if __name__ == "__main__":
    typer.run(main)
