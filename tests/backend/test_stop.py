"""Stopping `reversener serve` as a user does (SIGTERM, Ctrl-C, or a kill -9): a quick exit 0 even
mid-build, the embedded Redis saved and stopped, and no process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from reversener.devtools.stack import wait_until_up
from reversener.llm.local import free_port

from .test_api import payload

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def slow_llm():
    with FakeOpenAIServer(answer, latency=2.0) as server:  # a build takes minutes at this pace
        yield server


def _serve(data: Path, llm: FakeOpenAIServer) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"LLM_MODEL": "openai/fake", "LLM_API_BASE": llm.api_base, "LLM_API_KEY": "sk-test",
                "DATA_DIR": str(data), "HOST": "127.0.0.1", "LABEL_STUDIO_URL": "", "LABEL_STUDIO_API_KEY": ""})
    log = (data / "backend.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/health", 120, process)
    return process, url


def _ours(data: Path) -> list[psutil.Process]:
    """Processes of this backend: its gunicorn master and workers (DATA_DIR in their environment) and
    the redis-server working in its DATA_DIR."""
    found = []
    for process in psutil.process_iter(["cwd", "environ"]):
        if process.info["cwd"] == str(data / "redis") or (process.info["environ"] or {}).get("DATA_DIR") == str(data):
            found.append(process)
    return found


def _start_a_build(url: str, llm: FakeOpenAIServer) -> None:
    httpx.post(f"{url}/predict", json=payload("predict"), timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
            "names of type" in r["messages"][-1]["content"] for r in llm.requests):
        time.sleep(0.1)
    assert any("names of type" in r["messages"][-1]["content"] for r in llm.requests), "no build started"


@pytest.mark.parametrize("signum, group", [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)])
def test_a_stop_mid_build_exits_0_in_seconds_and_leaves_nothing(tmp_path, slow_llm, signum, group):
    """SIGTERM as a service manager sends it, SIGINT to the master, and Ctrl-C in a terminal (SIGINT
    to the whole process group: master and workers at once)."""
    process, url = _serve(tmp_path, slow_llm)
    _start_a_build(url, slow_llm)
    assert any(p.info["cwd"] == str(tmp_path / "redis") for p in _ours(tmp_path))
    started = time.monotonic()
    if group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    assert process.wait(timeout=30) == 0
    assert time.monotonic() - started < 8  # gunicorn would SIGKILL a stuck worker only after 10 s
    time.sleep(0.5)
    assert _ours(tmp_path) == []
    log = (tmp_path / "backend.log").read_text(errors="replace")
    assert "Traceback" not in log and "after interpreter shutdown" not in log and "SIGKILL" not in log


def test_a_killed_backend_leaves_no_orphan_after_the_next_start(tmp_path, slow_llm):
    process, url = _serve(tmp_path, slow_llm)
    httpx.post(f"{url}/webhook", json=payload("annotation_created"), timeout=30)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 10  # gunicorn's workers notice their parent is gone, and leave
    while time.monotonic() < deadline and len(_ours(tmp_path)) > 1:
        time.sleep(0.2)
    orphans = [p for p in _ours(tmp_path) if p.is_running()]
    assert [p.info["cwd"] for p in orphans] == [str(tmp_path / "redis")]  # redis-server, daemonized

    process, url = _serve(tmp_path, slow_llm)  # finds the orphan and reuses it
    assert httpx.get(f"{url}/health").json()["redis"] == "ok"
    redis_servers = [p for p in _ours(tmp_path) if p.info["cwd"] == str(tmp_path / "redis")]
    assert [p.pid for p in redis_servers] == [orphans[0].pid]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    time.sleep(0.5)
    assert _ours(tmp_path) == []
