"""Scale-out: `reversener prelabel --background` throughput with 1, 2 and 4 RQ workers.

A real redis-server, `reversener worker` processes, a scripted LLM of fixed latency and a scripted
Label Studio API, all on loopback. The library is built once before the measured runs; each run
pre-labels a fresh project copy of the same tasks, from the enqueue to the last page done.
Ideal = workers x LLM_CONCURRENCY / latency / LLM calls per task: each worker runs one page at a
time, and a page keeps LLM_CONCURRENCY calls in flight.

    .venv/bin/python -m benchmarks.scaleout            # minutes; docs/benchmarks.md gives the last run's time
    .venv/bin/python -m benchmarks.scaleout --smoke    # the smallest setting; CI runs it
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated

import psutil
import typer
from redis import Redis
from rq import Worker

from backend.job_queue import JobQueue
from backend.prelabel import prelabel_job
from backend.store import LibraryStore
from reversener.devtools import stack
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_label_studio import FakeLabelStudio
from reversener.devtools.fake_openai import FakeOpenAIServer

from .common import RESULTS, ROOT, figure, machine, write_json
from .speed import SENTENCES

CONFIG = (ROOT / "label_config.xml").read_text("utf-8")
FULL = {"workers": [1, 2, 4], "tasks": 1200, "page_size": 100, "latency": 0.2, "llm_concurrency": 8}
SMOKE = {"workers": [1, 2], "tasks": 48, "page_size": 12, "latency": 0.02, "llm_concurrency": 4}
PROJECT = "1"


def texts(n: int, offset: int) -> list[str]:
    """Distinct one-sentence texts, so no prediction comes from a cache (the backend keeps each
    text's prediction per model_version)."""
    return [f"{SENTENCES[i % 4][:-1]}, item {offset + i}." for i in range(n)]


def prelabel(jobs: JobQueue, store: LibraryStore, ls: FakeLabelStudio, page_size: int, timeout: float = 1800) -> float:
    """Seconds from enqueueing the pre-labeling (what `prelabel --background` does) to its last page done."""
    started = time.monotonic()
    jobs.enqueue("prelabel", prelabel_job, PROJECT, ls.url, page_size)
    while True:
        run = store.prelabel_run(PROJECT)
        if run.get("pages") and run["pages_done"] == run["pages"] and ls.predictions() >= len(ls.tasks):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"pre-labeling did not finish within {timeout:.0f}s: {run}")
        time.sleep(0.05)


def measure(config: dict, env: dict, root: Path, redis: Redis, store: LibraryStore, llm: FakeOpenAIServer,
            offset: int = 0) -> list[dict]:
    rows = []
    for run, count in enumerate(config["workers"]):
        workers = [stack.worker(root / f"w{count}-{i}", env) for i in range(count)]
        try:
            deadline = time.monotonic() + 120
            while len(Worker.all(connection=redis)) < count:  # every worker up before the clock starts
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers did not start; see the logs under {root}")
                time.sleep(0.2)
            calls, cpu = len(llm.requests), _cpu(workers)
            with FakeLabelStudio(CONFIG, texts(config["tasks"], offset + run * config["tasks"]), project=PROJECT) as ls:
                seconds = prelabel(JobQueue(redis, inline=False), store, ls, config["page_size"])
                assert all(len(p) == 1 for p in ls.posted.values()), "a task was predicted twice"
            used = len(llm.requests) - calls
            # Tasks per second if nothing but the LLM took time: each task costs its share of the calls.
            ideal = count * config["llm_concurrency"] / config["latency"] * config["tasks"] / used
            rows.append({"workers": count, "tasks": config["tasks"], "seconds": seconds,
                         "tasks_per_s": config["tasks"] / seconds, "ideal_tasks_per_s": ideal,
                         "fraction_of_ideal": config["tasks"] / seconds / ideal, "llm_calls": used,
                         "worker_cpu_ms_per_task": 1000 * (_cpu(workers) - cpu) / config["tasks"]})
            print(f"{count} workers: {rows[-1]['tasks_per_s']:.1f} tasks/s of {ideal:.0f} ideal "
                  f"({rows[-1]['fraction_of_ideal']:.2f}), {rows[-1]['worker_cpu_ms_per_task']:.1f} ms CPU per task")
        finally:
            for worker in workers:
                stack.stop(worker)
            while Worker.all(connection=redis):  # a stopped worker leaves the registry on its way out
                time.sleep(0.1)
    return rows


def _cpu(workers: list[subprocess.Popen]) -> float:
    """User and system CPU of the worker processes and their job forks, those that ended included."""
    total = 0.0
    for worker in workers:
        process = psutil.Process(worker.pid)
        total += sum(process.cpu_times()[:4])  # children_user/system: the forked jobs that ended
        total += sum(sum(c.cpu_times()[:2]) for c in process.children(recursive=True))
    return total


def run(
    smoke: Annotated[bool, typer.Option(help="The smallest setting (CI's smoke test).")] = False,
    output: Annotated[Path | None, typer.Option(help="JSON path; the plot goes beside it.")] = None,
) -> None:
    config = SMOKE if smoke else FULL
    output = output or RESULTS / ("scaleout-smoke.json" if smoke else "scaleout.json")
    started = time.monotonic()
    with (tempfile.TemporaryDirectory() as tmp, stack.RedisServer(Path(tmp) / "redis") as redis_server,
          FakeOpenAIServer(answer, latency=config["latency"]) as llm):
        root, prefix = Path(tmp), f"scale-{uuid.uuid4().hex[:6]}"
        env = {"REDIS_URL": redis_server.url, "REDIS_PREFIX": prefix, "LLM_MODEL": "openai/fake",
               "LLM_API_BASE": llm.api_base, "LLM_API_KEY": "sk-bench", "LLM_CACHE": "false",
               "LLM_CONCURRENCY": str(config["llm_concurrency"]), "FEATURE_SENTENCES": "4", "LOG_LEVEL": "WARNING",
               "LABEL_STUDIO_API_KEY": FakeLabelStudio.TOKEN}  # where: each run's URL goes with its job
        redis = Redis.from_url(redis_server.url)
        store = LibraryStore(redis, prefix)
        # The library first, on a small copy of the project: the measured runs only predict.
        measure({**config, "workers": [1], "tasks": config["page_size"]}, env, root, redis, store, llm, offset=10**6)
        rows = measure(config, env, root, redis, store, llm)
    figures = {"setting": "smoke" if smoke else "full", "config": config, "machine": machine(), "rows": rows,
               "benchmark_seconds": time.monotonic() - started}
    write_json(output, figures)
    plot(figures, output.with_suffix(".png"))


def plot(f: dict, path: Path) -> None:
    with figure(path) as axes:
        ax = axes[0]
        workers = [r["workers"] for r in f["rows"]]
        ax.plot(workers, [r["tasks_per_s"] for r in f["rows"]], "o-", label="measured")
        ax.plot(workers, [r["ideal_tasks_per_s"] for r in f["rows"]], "--", color="grey", label="ideal")
        ax.set_xlabel("RQ workers")
        ax.set_ylabel("tasks per second")
        ax.set_xticks(workers)
        ax.set_title(f"prelabel --background, {1000 * f['config']['latency']:.0f} ms scripted LLM")
        ax.legend()


if __name__ == "__main__":
    typer.run(run)
