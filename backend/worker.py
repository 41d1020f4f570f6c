"""`reversener worker`: an RQ worker for library builds, webhook events and pre-labeling pages,
which outlives a Redis restart (RQ's own worker exits when Redis drops it between jobs)."""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker

from . import jobs, prelabel  # noqa: F401 - the jobs' modules, imported once here and not in each job's fork (2.6 s)
from .context import QUEUE, Context

__all__ = ["run_worker"]

log = logging.getLogger(__name__)


def run_worker(context: Context, burst: bool = False) -> None:
    s = context.settings
    if load := getattr(context.runtime.embedder, "load", None):
        load()  # once here: each job runs in a fork of this process
    wait = 0.5
    while True:
        # An idle worker wakes from its queue wait (worker_ttl - 15 s) for maintenance, which runs
        # again the jobs of workers that died; the scheduler runs retries after their intervals.
        started = time.monotonic()
        try:  # creating the worker talks to Redis too (CLIENT SETNAME): a restart can meet it there
            worker = Worker([Queue(QUEUE, connection=context.redis)], connection=context.redis,
                            job_monitoring_interval=s.worker_heartbeat_seconds,
                            maintenance_interval=s.worker_maintenance_seconds,
                            worker_ttl=s.worker_maintenance_seconds + 15)
            worker.work(burst=burst, with_scheduler=True)
            return
        except (RedisConnectionError, RedisTimeoutError) as err:
            wait = 1.0 if time.monotonic() - started > 60 else min(wait * 2, 30.0)  # back off only while it stays away
            log.warning("Redis went away (%s); the worker starts again in %.0f s", err, wait)
            time.sleep(wait)
