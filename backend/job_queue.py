"""Background jobs, each given as the function that runs it: an RQ queue for separate workers, or
daemon threads in this process (embedded mode), one per lane, so webhook events apply in arrival
order and a stop never waits for a build."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.client import Pipeline

__all__ = ["Job", "JobQueue", "QUEUE", "JOB_RETRIES"]

log = logging.getLogger(__name__)

QUEUE = "reversener"
JOB_RETRIES = 3  # 10 s, 40 s and 160 s after a failure, or after the job's worker was found dead

# A module-level function: RQ stores its dotted path and a worker imports it from there.
Job = Callable[..., object]
_Call = tuple[Job, tuple, dict[str, Any]]


class JobQueue:
    """Enqueues jobs for RQ workers, or runs them on this process's lanes when `inline`."""

    def __init__(self, redis: Redis, inline: bool) -> None:
        self.inline = inline
        self._redis = redis
        self._lanes: dict[str, queue.Queue[_Call]] = {}
        self._lock = threading.Lock()

    def enqueue(self, lane: str, job: Job, *args: Any, **kwargs: Any) -> None:
        self.enqueue_many(lane, job, [args], kwargs=kwargs)

    def enqueue_many(self, lane: str, job: Job, calls: list[tuple], *, retries: int = JOB_RETRIES,
                     kwargs: dict[str, Any] | None = None,
                     then: Callable[[Pipeline], None] | None = None) -> None:
        """One job per call's arguments, all at once; `then(pipe)` adds its writes to the same
        transaction, so either all of it is queued or none. RQ runs a job again, up to `retries`
        times, if it fails or its worker dies: every job here may run twice (upserts by annotation
        id, a build lock, pages that skip predicted tasks), and a correction whose worker died in
        the middle of it was lost without (topology test)."""
        kwargs = kwargs or {}
        if not self.inline:
            from rq import Queue, Retry

            rq_queue = Queue(QUEUE, connection=self._redis)
            retry = Retry(max=retries, interval=[10 * 4**k for k in range(retries)]) if retries else None
            jobs = [Queue.prepare_data(job, args, kwargs, timeout=3600, result_ttl=600, failure_ttl=86400,
                                       retry=retry) for args in calls]
            with self._redis.pipeline() as pipe:
                rq_queue.enqueue_many(jobs, pipeline=pipe)
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

    def _lane(self, lane: str) -> queue.Queue[_Call]:
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


def _run_lane(jobs: queue.Queue[_Call]) -> None:
    while True:
        job, args, kwargs = jobs.get()
        try:
            job(*args, **kwargs)
        except Exception:  # a failed job must not kill the lane; its reason goes to the log
            log.exception("background job %s.%s failed", job.__module__, job.__qualname__)
        finally:
            jobs.task_done()
