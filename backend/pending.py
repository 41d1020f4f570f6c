"""Per-task prediction work under a deadline: each task runs on a pool of daemon threads, a request
waits for its tasks until its deadline, and what it leaves behind finishes in the background and is
handed to `on_late` (kept and written back to Label Studio). The same task asked twice while it runs
is computed once."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from dataclasses import dataclass, field

from .errors import TaskFailed

__all__ = ["PendingPredictions", "Outcome"]

log = logging.getLogger(__name__)

_POLL = 0.25  # seconds between checks of the stop flag while a request waits


@dataclass
class Outcome:
    """A finished task: its prediction, or why there is none."""

    prediction: dict | None
    error: str | None = None


@dataclass
class _Job:
    key: str
    on_late: Callable[[Outcome], None]
    future: Future = field(default_factory=Future)
    waiting: int = 0  # requests collecting it now; none left when it finishes means it is late


class PendingPredictions:
    """One per process; threads start on first use and never keep the process alive."""

    def __init__(self, threads: int, stopping: threading.Event) -> None:
        self._threads, self.stopping = threads, stopping
        self._queue: queue.Queue = queue.Queue()
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._started = False
        self.late_done = self.late_total = 0  # background work since it last ran dry, for the log
        self._late_since = time.monotonic()

    def submit(self, key: str, work: Callable[[], dict], on_late: Callable[[Outcome], None]) -> _Job:
        """Start `work` for this key unless it already runs; the caller must then `collect` it."""
        with self._lock:
            self._start_threads()
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = _Job(key, on_late=on_late)
                self._queue.put((job, work))
            job.waiting += 1
            return job

    def collect(self, jobs: list[_Job], deadline: float | None) -> list[Outcome | None]:
        """Each job's outcome if it finished before the monotonic `deadline` (None: no limit), else
        None: that job goes on, and its outcome goes to its `on_late` unless a later request takes it."""
        futures = [job.future for job in jobs]
        while not self.stopping.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            if not wait_all(futures, timeout=_POLL if left is None else min(left, _POLL)).not_done:
                break
        outcomes: list[Outcome | None] = []
        with self._lock:
            for job in jobs:
                job.waiting -= 1
                if job.future.done():
                    outcomes.append(job.future.result())
                else:
                    outcomes.append(None)
                    if not job.future.done() and job.waiting == 0:  # the last request left it behind
                        if self.late_total == self.late_done:  # a new stretch of background work
                            self.late_done = self.late_total = 0
                            self._late_since = time.monotonic()
                        self.late_total += 1
        return outcomes

    def _start_threads(self) -> None:
        if not self._started:
            self._started = True
            for i in range(self._threads):
                threading.Thread(target=self._run, name=f"predict-{i}", daemon=True).start()

    def _run(self) -> None:
        while True:
            job, work = self._queue.get()
            if self.stopping.is_set():
                continue  # abandoned: the process is stopping
            try:
                outcome = Outcome(work())
            except TaskFailed as err:
                outcome = Outcome(None, str(err))
            except Exception as err:  # a bug in one task must not sink the others; it is logged
                log.exception("prediction of %s failed", job.key)
                outcome = Outcome(None, f"internal error: {type(err).__name__}")
            with self._lock:
                del self._jobs[job.key]
                late = job.waiting == 0
                job.future.set_result(outcome)  # under the lock: a collector sees it done or counts as waiting
            if late:
                self._finish_late(job, outcome)

    def _finish_late(self, job: _Job, outcome: Outcome) -> None:
        try:
            job.on_late(outcome)
        except Exception:  # a failed write-back is logged; the prediction stays kept for the next request
            log.exception("finishing %s in the background failed", job.key)
        with self._lock:
            self.late_done += 1
            done, total = self.late_done, max(self.late_total, self.late_done)
            rate = done / max(time.monotonic() - self._late_since, 1e-9)
        log.info("background predictions: %d of %d done (%.2f tasks/s)", done, total, rate)
