"""Starts a real Label Studio and a real backend as child processes, for end-to-end tests and the
workflow benchmark: each waits until it answers, and stops with its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ..llm.local import free_port

__all__ = ["wait_until_up", "start", "stop", "label_studio", "backend", "LS_TOKEN", "LS_USER", "LS_PASSWORD"]

LS_TOKEN = "e2e-token-0123456789"
LS_USER, LS_PASSWORD = "admin@example.com", "e2e-password-1"


def wait_until_up(url: str, seconds: float, process: subprocess.Popen) -> None:
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
