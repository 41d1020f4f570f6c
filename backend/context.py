"""What one backend or worker process holds once: settings, engine runtime, Redis store, job queue,
webhook spool, and an in-memory copy of each library. A plain holder: it submits jobs by name and
imports nothing that imports it."""

from __future__ import annotations

import importlib
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable
from functools import cached_property

from redis import Redis
from redis.exceptions import RedisError

from reversener.library import ExampleLibrary
from reversener.llm.gateway import stop_all
from reversener.runtime import Runtime

from .ls_api import LabelStudioClient, LabelStudioError
from .pending import PendingPredictions
from .redis_conn import connect
from .settings import BackendSettings
from .spool import WebhookSpool
from .store import LibraryStore

__all__ = ["Context", "Counters", "JobQueue", "get_context", "set_context", "stop_background", "QUEUE",
           "WEBHOOK_JOB"]

log = logging.getLogger(__name__)

QUEUE = "reversener"
JOB_RETRIES = 3  # 10 s, 40 s and 160 s after a failure, or after the job's worker was found dead
WEBHOOK_JOB = "backend.jobs.webhook_job"


def resolve(name: str):
    """A job function from its dotted name, as RQ resolves it in a worker."""
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


class JobQueue:
    """Background jobs by dotted name: an RQ queue for separate workers, or daemon threads in this
    process (embedded mode), one per lane, so webhook events apply in arrival order and a stop never
    waits for a build."""

    def __init__(self, redis: Redis, inline: bool) -> None:
        self.inline = inline
        self._redis = redis
        self._lanes: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()

    def enqueue(self, lane: str, job: str, *args, **kwargs) -> None:
        self.enqueue_many(lane, job, [args], kwargs=kwargs)

    def enqueue_many(self, lane: str, job: str, calls: list[tuple], *, retries: int = JOB_RETRIES,
                     kwargs: dict | None = None, then: Callable | None = None) -> None:
        """One job per call's arguments, all at once; `then(pipe)` adds its writes to the same
        transaction, so either all of it is queued or none. RQ runs a job again, up to `retries`
        times, if it fails or its worker dies: every job here may run twice (upserts by annotation
        id, a build lock, pages that skip predicted tasks), and a correction whose worker died in
        the middle of it was lost without (topology test)."""
        kwargs = kwargs or {}
        if not self.inline:
            from rq import Queue, Retry

            queue = Queue(QUEUE, connection=self._redis)
            retry = Retry(max=retries, interval=[10 * 4**k for k in range(retries)]) if retries else None
            jobs = [Queue.prepare_data(job, args, kwargs, timeout=3600, result_ttl=600, failure_ttl=86400,
                                       retry=retry) for args in calls]
            with self._redis.pipeline() as pipe:
                queue.enqueue_many(jobs, pipeline=pipe)
                if then:
                    then(pipe)
                pipe.execute()
            return
        if then:
            with self._redis.pipeline() as pipe:
                then(pipe)
                pipe.execute()
        for args in calls:
            self._lane(lane).put((job, args, kwargs))

    def _lane(self, lane: str) -> queue.Queue:
        with self._lock:
            if lane not in self._lanes:
                self._lanes[lane] = queue.Queue()
                threading.Thread(target=_run_lane, args=(self._lanes[lane],), name=f"jobs-{lane}",
                                 daemon=True).start()
            return self._lanes[lane]

    def drain(self) -> None:
        """Wait until in-process jobs are done, including jobs that jobs enqueued (tests)."""
        while True:
            with self._lock:
                lanes = list(self._lanes.values())
            for lane in lanes:
                lane.join()
            with self._lock:
                if all(lane.unfinished_tasks == 0 for lane in self._lanes.values()):
                    return


def _run_lane(jobs: queue.Queue) -> None:
    while True:
        name, args, kwargs = jobs.get()
        try:
            resolve(name)(*args, **kwargs)
        except Exception:  # a failed job must not kill the lane; its reason goes to the log
            log.exception("background job %s failed", name)
        finally:
            jobs.task_done()


class Counters:
    """The backend's counters for /metrics; safe to update from several threads."""

    def __init__(self) -> None:
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, **amounts: float) -> None:
        with self._lock:
            self._counts.update(amounts)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._counts)


class Context:
    """Created once per process; tests build one with fakes."""

    def __init__(self, settings: BackendSettings | None = None, runtime: Runtime | None = None,
                 redis: Redis | None = None) -> None:
        self.settings = settings or BackendSettings()
        self.runtime = runtime or Runtime(self.settings)
        self._redis = redis
        self.credentials: dict[str, tuple[str, str]] = {}  # project -> (url, token), memory only
        self.versions: dict[str, str] = {}  # project -> last model_version, for when Redis is away
        self.stopping = threading.Event()  # set when the process is asked to stop
        self.metrics = Counters()
        self._clients: dict[tuple[str, str], LabelStudioClient] = {}
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

    @cached_property
    def pending(self) -> PendingPredictions:
        threads = self.settings.predict_threads or max(16, 2 * self.settings.concurrency())
        return PendingPredictions(threads, self.stopping)

    @cached_property
    def spool(self) -> WebhookSpool:
        """Opened at start-up by the app, so events left by an earlier process are replayed at once."""
        path = self.settings.data_dir / "spool" / f"{self.settings.redis_prefix}-webhooks.jsonl"
        return WebhookSpool(path, lambda event: resolve("backend.jobs.apply_webhook")(event))

    def label_studio(self, project: str) -> tuple[str, str] | None:
        """Where and who to ask Label Studio's API as: the env's credentials, else those /setup sent."""
        s = self.settings
        if s.label_studio_url and s.label_studio_api_key:
            return s.label_studio_url, s.label_studio_api_key.get_secret_value()
        return self.credentials.get(project)

    def ls_client(self, project: str) -> LabelStudioClient | None:
        """A client of the project's Label Studio, made once per credentials; None without them."""
        credentials = self.label_studio(project)
        if credentials is None:
            return None
        with self._lock:
            if credentials not in self._clients:
                try:
                    self._clients[credentials] = LabelStudioClient(*credentials)
                except LabelStudioError as err:
                    log.warning("project %s: %s", project, err)
                    return None
            return self._clients[credentials]

    def remember_config(self, project: str, label_config: str) -> None:
        if self._configs.get(project) == label_config:
            return
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

    def submit_webhook(self, event: dict) -> None:
        """Queue a webhook event; while Redis is unreachable it waits in the spool on disk."""
        try:
            self.jobs.enqueue("webhooks", WEBHOOK_JOB, event)
        except RedisError:
            self.spool.add(event)

    def library(self, project: str, lib_key: str, types: dict[str, str], revision: int | None
                ) -> ExampleLibrary | None:
        """The project's library for this key at `revision`, from memory unless the revision moved
        on; None for `revision` means Redis is unreachable: the last copy in memory."""
        with self._lock:
            cached = self._libraries.get((project, lib_key))
        if revision is None or (cached and cached[0] == revision):
            return cached[1] if cached else None
        library = self.store.load(project, lib_key, types, self.runtime.embedder.name)
        if library is not None:
            with self._lock:
                self._libraries[(project, lib_key)] = (revision, library)
        return library


_CONTEXT: Context | None = None
_CONTEXT_LOCK = threading.Lock()


def get_context() -> Context:
    """The process's context; RQ jobs call this, the app sets it first."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            _CONTEXT = Context()
        return _CONTEXT


def stop_background() -> None:
    """Abandon this process's background work before the interpreter shuts down under it (a command
    that ends while a job still runs), so nothing is retried as if the LLM had failed."""
    with _CONTEXT_LOCK:
        if _CONTEXT is not None:
            _CONTEXT.stopping.set()
    stop_all()


def set_context(context: Context) -> None:
    global _CONTEXT
    with _CONTEXT_LOCK:
        _CONTEXT = context
