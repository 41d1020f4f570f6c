"""What one backend or worker process holds once: settings, engine runtime, Redis store, job queue,
and an in-memory copy of each library (reloaded when the project's revision changes)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

from redis import Redis
from redis.exceptions import RedisError

from reversener.library import ExampleLibrary
from reversener.runtime import Runtime

from .redis_conn import connect
from .settings import BackendSettings
from .spool import WebhookSpool
from .store import LibraryStore

__all__ = ["Context", "JobQueue", "get_context", "set_context"]

log = logging.getLogger(__name__)

QUEUE = "reversener"


class JobQueue:
    """Background jobs: an RQ queue for separate workers, or threads in this process (embedded mode).
    Webhooks and builds get one thread each in-process, so webhook events apply in arrival order."""

    def __init__(self, redis: Redis, inline: bool) -> None:
        self.inline = inline
        self._redis = redis
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._submitted = 0
        self._lock = threading.Lock()

    def enqueue(self, lane: str, func, *args, **kwargs) -> None:
        if self.inline:
            with self._lock:
                self._submitted += 1
            self._pool(lane).submit(_run_logged, func, *args, **kwargs)
            return
        from rq import Queue

        Queue(QUEUE, connection=self._redis).enqueue(func, *args, **kwargs, job_timeout=3600,
                                                     result_ttl=600, failure_ttl=86400)

    def _pool(self, lane: str) -> ThreadPoolExecutor:
        with self._lock:
            if lane not in self._pools:
                self._pools[lane] = ThreadPoolExecutor(1, thread_name_prefix=f"jobs-{lane}")
            return self._pools[lane]

    def drain(self) -> None:
        """Wait until in-process jobs are done, including jobs that jobs enqueued (tests, shutdown)."""
        while True:
            with self._lock:
                pools, submitted = list(self._pools.values()), self._submitted
            for pool in pools:
                pool.submit(lambda: None).result()
            with self._lock:
                if self._submitted == submitted:
                    return


def _run_logged(func, *args, **kwargs) -> None:
    try:
        func(*args, **kwargs)
    except Exception:  # a failed job must not kill the worker thread; its reason goes to the log
        log.exception("background job %s failed", getattr(func, "__name__", func))


class Context:
    """Created once per process; tests build one with fakes."""

    def __init__(self, settings: BackendSettings | None = None, runtime: Runtime | None = None,
                 redis: Redis | None = None) -> None:
        self.settings = settings or BackendSettings()
        self.runtime = runtime or Runtime(self.settings)
        self._redis = redis
        self.credentials: dict[str, tuple[str, str]] = {}  # project -> (url, token), memory only
        self.versions: dict[str, str] = {}  # project -> last model_version, for when Redis is away
        self._configs: dict[str, str] = {}
        self._libraries: dict[tuple[str, str], tuple[int, ExampleLibrary]] = {}
        self._lock = threading.Lock()

    @cached_property
    def redis(self) -> Redis:
        return self._redis if self._redis is not None else connect(self.settings)

    @cached_property
    def store(self) -> LibraryStore:
        return LibraryStore(self.redis, self.settings.redis_prefix)

    @cached_property
    def jobs(self) -> JobQueue:
        return JobQueue(self.redis, self.settings.inline())

    def remember_config(self, project: str, label_config: str) -> None:
        self._configs[project] = label_config
        try:
            self.store.save_config(project, label_config)
        except RedisError as err:
            log.warning("Redis unreachable (%s): label config kept in memory only", type(err).__name__)

    def config(self, project: str) -> str | None:
        if project in self._configs:
            return self._configs[project]
        try:
            return self.store.config(project)
        except RedisError:
            return None

    @cached_property
    def spool(self) -> WebhookSpool:
        from .jobs import apply_webhook  # jobs import this module

        path = self.settings.data_dir / "spool" / f"{self.settings.redis_prefix}-webhooks.jsonl"
        return WebhookSpool(path, apply_webhook)

    def submit_webhook(self, event: dict) -> None:
        """Queue a webhook event; while Redis is unreachable it waits in the spool on disk."""
        from .jobs import webhook_job

        try:
            self.jobs.enqueue("webhooks", webhook_job, event)
        except RedisError:
            self.spool.add(event)

    def library(self, project: str, lib_key: str, types: dict[str, str]) -> ExampleLibrary | None:
        """The project's library for this key, from memory unless its revision moved on; while
        Redis is unreachable, the last copy in memory."""
        with self._lock:
            cached = self._libraries.get((project, lib_key))
        try:
            revision = self.store.revision(project)
        except RedisError as err:
            log.warning("Redis unreachable (%s): predicting with the library in memory", type(err).__name__)
            return cached[1] if cached else None
        if cached and cached[0] == revision:
            return cached[1]
        library = self.store.load(project, lib_key, types, self.runtime.embedder.name)
        if library is not None:
            with self._lock:
                self._libraries[(project, lib_key)] = (revision, library)
        return library

    def revision(self, project: str) -> int:
        return self.store.revision(project)


_CONTEXT: Context | None = None
_CONTEXT_LOCK = threading.Lock()


def get_context() -> Context:
    """The process's context; RQ jobs call this, the app sets it first."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            _CONTEXT = Context()
        return _CONTEXT


def set_context(context: Context) -> None:
    global _CONTEXT
    with _CONTEXT_LOCK:
        _CONTEXT = context
