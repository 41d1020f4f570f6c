"""What one backend or worker process holds once: settings, engine runtime, Redis store, job queue,
webhook spool, Label Studio clients and an in-memory copy of each library. A plain holder: it
imports nothing that imports it, so the webhook spool's replay is handed to it by its opener."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TypeVar

from redis import Redis
from redis.exceptions import RedisError

from reversener.corrections import Hints, NameMemory, learn_hints
from reversener.library import ExampleLibrary
from reversener.llm.gateway import stop_all
from reversener.runtime import Runtime
from reversener.span_model import NO_SPANS, LearnedSpans, learn_spans
from reversener.thresholds import Scored, Thresholds, missed_types

from .errors import LabelStudioError
from .job_queue import JobQueue
from .ls_api import LabelStudioClient
from .pending import PendingPredictions
from .redis_conn import connect
from .settings import BackendSettings
from .spool import WebhookSpool
from .store import LibraryStore, StoredCorrection

T = TypeVar("T")

__all__ = ["Services", "Counters", "get_services", "set_services", "stop_background"]

log = logging.getLogger(__name__)


class Counters:
    """The backend's counters for /metrics; safe to update from several threads."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, **amounts: float) -> None:
        with self._lock:
            self._counts.update(amounts)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._counts)

    def since(self, before: dict[str, float]) -> dict[str, float]:
        """Counts accrued since an earlier snapshot."""
        return {k: v - before.get(k, 0) for k, v in self.snapshot().items()}


class Services:
    """Created once per process; tests build one with fakes."""

    def __init__(self, settings: BackendSettings | None = None, runtime: Runtime | None = None,
                 redis: Redis | None = None) -> None:
        self.settings = settings or BackendSettings()
        self.runtime = runtime or Runtime(self.settings)
        self._redis = redis
        self.credentials: dict[str, tuple[str, str]] = {}  # project -> (url, token), memory only
        # project -> last (model_version, answers_version), for when Redis is away
        self.versions: dict[str, tuple[str, str]] = {}
        self.stopping = threading.Event()  # set when the process is asked to stop
        self.metrics = Counters()
        self._clients: dict[tuple[str, str], LabelStudioClient] = {}
        self._configs: dict[str, str] = {}
        self._libraries: dict[tuple[str, str], tuple[int, ExampleLibrary]] = {}
        self._corrections: dict[str, tuple[int, list[StoredCorrection]]] = {}
        self._memories: dict[str, tuple[int, NameMemory]] = {}
        self._thresholds: dict[str, tuple[int, Thresholds]] = {}
        self._missed: dict[str, tuple[int, tuple[str, ...]]] = {}
        self._spans: dict[str, tuple[int, LearnedSpans]] = {}
        self._hints: dict[str, tuple[int, Hints]] = {}
        self._spool: WebhookSpool | None = None
        self._lock = threading.Lock()
        self._spool_lock = threading.Lock()  # not _lock: opening the spool starts its replay thread

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

    def open_spool(self, replay: Callable[[dict], object]) -> WebhookSpool:
        """The process's webhook spool, opened by the first call with `replay` to apply an event
        (later calls get the same spool); opening it replays what an earlier process left there."""
        with self._spool_lock:
            if self._spool is None:
                path = self.settings.data_dir / "spool" / f"{self.settings.redis_prefix}-webhooks.jsonl"
                self._spool = WebhookSpool(path, replay)
            return self._spool

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

    def corrections(self, project: str, revision: int | None) -> list[StoredCorrection]:
        """The project's corrections at `revision`, read from Redis only when the revision moved on (a
        correction stored or deleted); None for `revision`: the last ones read."""
        return self._learned(self._corrections, project, revision, lambda: self.store.corrections(project), list)

    def memory(self, project: str, revision: int | None, agreement: float) -> NameMemory:
        """The project's memory of names at `revision`, as `corrections` are kept."""
        return self._learned(self._memories, project, revision,
                             lambda: NameMemory((c.votes for c in self.corrections(project, revision)), agreement),
                             lambda: NameMemory((), agreement))

    def scored(self, project: str, revision: int | None) -> list[Scored]:
        """What the corrections that had the LLM's answer at hand say of its scores."""
        return [c.scored for c in self.corrections(project, revision) if c.scored is not None]

    def thresholds(self, project: str, revision: int | None) -> Thresholds:
        """The project's thresholds per type at `revision`, as `corrections` are kept."""
        method = self.settings.method()

        def build() -> Thresholds:
            learned = Thresholds.learn(self.scored(project, revision), method.min_score, method.threshold_corrections)
            self.metrics.add(thresholds_adopted=len(learned.raised),
                             thresholds_rejected=len(learned.left))
            return learned

        return self._learned(self._thresholds, project, revision, build, Thresholds)

    def missed_types(self, project: str, revision: int | None) -> tuple[str, ...]:
        """The types the project's corrections show the model missing, at `revision`, as `corrections` are kept."""
        return self._learned(self._missed, project, revision,
                             lambda: tuple(missed_types(self.scored(project, revision))), tuple)

    def hints(self, project: str, revision: int | None) -> Hints:
        """The names the project's annotators corrected in the model's answers and agree on, at most
        CORRECTION_HINTS per type, at `revision`, as `corrections` are kept."""
        def build() -> Hints:
            corrected = [(part.sentence, c.predicted[k]) for c in self.corrections(project, revision)
                         if c.predicted is not None for k, part in enumerate(c.parts)]
            memory = self.memory(project, revision, self.settings.memory_agreement)
            return learn_hints(corrected, memory, self.settings.correction_hints)

        return self._learned(self._hints, project, revision, build, lambda: Hints({}))

    def span_model(self, project: str, revision: int | None, generation: int | None,
                   libraries: Sequence[ExampleLibrary | None]) -> LearnedSpans:
        """The project's span model, trained again only when its generation moves on (every VERSION_EVERY
        corrections): training costs seconds of CPU, too much for every correction."""
        return self._learned(self._spans, project, generation,
                             lambda: self._learn_spans(project, revision, libraries), lambda: NO_SPANS)

    def span_types(self, project: str) -> list[str]:
        """The types the project's span model adds, as this process last trained it (none before the
        first prediction that trains it)."""
        with self._lock:
            cached = self._spans.get(project)
        return sorted(cached[1].types) if cached else []

    def _learn_spans(self, project: str, revision: int | None, libraries: Sequence[ExampleLibrary | None]
                     ) -> LearnedSpans:
        method, embedder = self.settings.method(), self.runtime.embedder
        pieces = getattr(embedder, "pieces", None)
        stored = self.corrections(project, revision)
        if pieces is None or sum(c.predicted is not None for c in stored) < method.threshold_corrections:
            return NO_SPANS
        parts = [(part.sentence, None if c.predicted is None else c.predicted[k])
                 for c in stored for k, part in enumerate(c.parts)]
        generated = [e.sentence for library in libraries if library for e in library if e.source == "synthetic"]
        try:
            learned = learn_spans([p for p, _ in parts], [known for _, known in parts],
                                  self.missed_types(project, revision), method.span_min_score, pieces, generated)
        except Exception:  # an add-on: predictions go on without it until the next generation
            log.exception("project %s: span model not trained", project)
            return NO_SPANS
        log.info("project %s: span model adopted for %s", project, sorted(learned.types) or "no type")
        self.metrics.add(span_types_adopted=len(learned.types),
                         span_types_rejected=len(learned.rejected))
        return learned

    def _learned(self, cache: dict[str, tuple[int, T]], project: str, revision: int | None,
                 build: Callable[[], T], empty: Callable[[], T]) -> T:
        """What a project's corrections teach, from `cache` while its revision is unchanged; with no
        revision (Redis away), the last one built, else `empty()`."""
        with self._lock:
            cached = cache.get(project)
        if cached is not None and (revision is None or cached[0] == revision):
            return cached[1]
        if revision is None:
            return empty()
        learned = build()
        with self._lock:
            cache[project] = (revision, learned)
        return learned


_SERVICES: Services | None = None
_SERVICES_LOCK = threading.Lock()


def get_services() -> Services:
    """The process's services; RQ jobs call this, the app sets them first."""
    global _SERVICES
    with _SERVICES_LOCK:
        if _SERVICES is None:
            _SERVICES = Services()
        return _SERVICES


def set_services(services: Services) -> None:
    global _SERVICES
    with _SERVICES_LOCK:
        _SERVICES = services


def stop_background() -> None:
    """Abandon this process's background work before the interpreter shuts down under it (a command
    that ends while a job still runs), so nothing is retried as if the LLM had failed."""
    with _SERVICES_LOCK:
        if _SERVICES is not None:
            _SERVICES.stopping.set()
    stop_all()
