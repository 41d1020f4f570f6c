"""What an annotator meets, timed: a real Label Studio, `reversener serve` with the bundled model (or
--llm-model), one click of Retrieve predictions on N tasks, and the time until every task holds a
prediction; then `reversener prelabel` on N other tasks with the backend stopped. Tasks are WikiGold
sentences, or paragraphs of about 5 sentences (a document split evenly, as `benchmarks.documents`
makes them); both report the LLM calls and tokens per task, the library build included.

    .venv/bin/python -m benchmarks.workflow [--tasks 30] [--unit paragraph]

Answers are not cached (LLM_CACHE=false) and DATA_DIR is fresh, so a rerun costs the same.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import httpx
import numpy as np
import typer

from reversener.devtools import stack
from reversener.evaluation import pick_sentences
from reversener.llm.local import ensure_bundled_model
from reversener.readers import read_conll, read_conll_documents
from reversener.settings import Settings

from .common import DATASETS, RESULTS, ROOT, llm_overrides, machine, write_json
from .documents import tasks_of

LS_BIN = Path(os.environ.get("LABEL_STUDIO_BIN", ROOT / ".venv-ls" / "bin" / "label-studio"))
CONFIG = (ROOT / "label_config.xml").read_text("utf-8")
UNITS = ("sentence", "paragraph")
PARAGRAPH_SENTENCES = 5
# What `prelabel` prints of its LLM cost, for the library build and then for the tasks; rich may
# wrap the line at any space.
SPENT = re.compile(r"(\d+)\s+calls,\s+(\d+)\s+prompt\s+and\s+(\d+)\s+completion\s+tokens,\s+(\d+)\s+s")


def result_path(unit: str) -> Path:
    return RESULTS / ("workflow.json" if unit == "sentence" else f"workflow-{unit}s.json")


def texts_for(unit: str, count: int, seed: int = 0) -> list[str]:
    """`count` seeded WikiGold sentences, or paragraphs of about PARAGRAPH_SENTENCES sentences."""
    if unit == "sentence":
        return [s.text for s in pick_sentences(read_conll(DATASETS["wikigold"]), sample=count, seed=seed)]
    if unit != "paragraph":
        raise typer.BadParameter(f"unknown unit {unit!r}; choose from {', '.join(UNITS)}", param_hint="--unit")
    paragraphs = tasks_of(read_conll_documents(DATASETS["wikigold"]), unit, PARAGRAPH_SENTENCES)
    picks = sorted(np.random.default_rng(seed).choice(len(paragraphs), size=count, replace=False))
    return [paragraphs[i].text for i in picks]


def per_task(spent: dict[str, float], tasks: int) -> dict[str, float]:
    """LLM calls, prompt and completion tokens and seconds per task."""
    return {name: spent[name] / tasks for name in ("calls", "prompt_tokens", "completion_tokens", "seconds")}


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
        limit: float = 1800, unit: str = "sentence") -> dict:
    texts = texts_for(unit, 2 * tasks)
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
            metrics = httpx.get(f"{backend_url}/metrics").json()
            click["metrics"], click["llm_per_task"] = metrics["backend"], per_task(metrics["llm"], tasks)
        prelabel_project = _project(api, "prelabel", texts[tasks:])
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "backend", "prelabel", "--project", str(prelabel_project)],
                              env={**os.environ, **env, "DATA_DIR": str(data)}, capture_output=True, text=True)
        prelabel = {"seconds": time.monotonic() - started, "exit_code": done.returncode,
                    "predicted": len(_predicted(api, prelabel_project)), "output": done.stderr[-2000:]}
        spent = SPENT.findall(done.stdout + done.stderr)  # the CLI reports on stderr
        if len(spent) == 2:
            names = ("calls", "prompt_tokens", "completion_tokens", "seconds")
            build, asked = (dict(zip(names, map(float, found), strict=True)) for found in spent)
            prelabel["llm_build"], prelabel["llm_per_task"] = build, per_task(asked, tasks)
    result = {"machine": machine(), "tasks": tasks, "unit": unit, "llm": llm_model or "bundled", "click": click,
              "prelabel": prelabel, "characters_per_task": sum(map(len, texts)) / len(texts),
              "combine_zero_shot": Settings().combine_zero_shot}
    write_json(result_path(unit), result)
    return result


def main(
    tasks: Annotated[int, typer.Option(help="Tasks per project.")] = 30,
    llm_model: Annotated[str | None, typer.Option(help="A litellm model instead of the bundled one.")] = None,
    llm_api_base: Annotated[str | None, typer.Option(help="Its base URL.")] = None,
    unit: Annotated[str, typer.Option(help="WikiGold sentences, or paragraphs of about 5 of them.")] = "sentence",
) -> None:
    """Time one Retrieve predictions click and a prelabel run against a real Label Studio."""
    result = run(tasks, llm_model, llm_api_base, unit=unit)
    click, prelabel = result["click"], result["prelabel"]
    all_seconds = "never" if click["all_seconds"] is None else f"{click['all_seconds']:.0f} s"
    print(f"click: answered in {click['click_seconds']:.1f} s (HTTP {click['click_status']}) with "
          f"{click['in_click']} of {tasks} tasks; every task held a prediction after {all_seconds}; "
          f"predictions per task {click['predictions_per_task']}")
    print(f"prelabel: {prelabel['predicted']} of {tasks} tasks in {prelabel['seconds']:.0f} s, "
          f"exit code {prelabel['exit_code']}")
    for step, figures in (("click", click), ("prelabel", prelabel)):
        if "llm_per_task" in figures:
            cost = figures["llm_per_task"]
            print(f"{step}: {cost['calls']:.1f} LLM calls and {cost['prompt_tokens']:.0f} prompt tokens per task")


if __name__ == "__main__":
    typer.run(main)
