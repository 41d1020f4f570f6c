"""`reversener worker`: an RQ worker for library builds, webhook events and pre-labeling pages,
which outlives a Redis restart: RQ's own work loop ends on any error, a dropped Redis included, and
only a requested stop (or an empty queue in burst mode) ends this one."""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.worker import BaseWorker

# The jobs' modules, imported once here and not in each job's fork (docs/deployment.md has the cost).
from . import builds, jobs, prelabel, webhooks  # noqa: F401
from .job_queue import QUEUE
from .services import Services

__all__ = ["PromptUnsubscribe", "StoppableWorker", "run_worker"]

log = logging.getLogger(__name__)


class PromptUnsubscribe(BaseWorker):
    """RQ sends UNSUBSCRIBE before it stops its pubsub thread. With redis-py 8.2 the thread, having read
    the reply, goes back to a 60 s wait for a subscription, and stop() now waits for the thread: each
    teardown took a minute. Lowering the thread's flag first lets that reply end it at once."""

    def unsubscribe(self) -> None:
        if thread := getattr(self, "pubsub_thread", None):
            thread._running.clear()
        super().unsubscribe()


class StoppableWorker(PromptUnsubscribe, Worker):
    """RQ's worker, remembering a warm stop (SIGTERM, SIGINT, `rq shutdown`): its work loop returns
    the same way after a stop and after an error it swallowed."""

    stop_requested = False

    def handle_warm_shutdown_request(self) -> None:
        self.stop_requested = True
        super().handle_warm_shutdown_request()


def run_worker(services: Services, burst: bool = False) -> None:
    s = services.settings
    if load := getattr(services.runtime.embedder, "load", None):
        load()  # once here: each job runs in a fork of this process
    wait = 0.5
    try:
        while True:
            # An idle worker wakes from its queue wait (worker_ttl - 15 s) for maintenance, which runs
            # again the jobs of workers that died; the scheduler runs retries after their intervals.
            started = time.monotonic()
            try:  # creating the worker talks to Redis too (CLIENT SETNAME): a restart can meet it there
                worker = StoppableWorker([Queue(QUEUE, connection=services.redis)], connection=services.redis,
                                         job_monitoring_interval=s.worker_heartbeat_seconds,
                                         maintenance_interval=s.worker_maintenance_seconds,
                                         worker_ttl=s.worker_maintenance_seconds + 15)
                worker.work(burst=burst, with_scheduler=True)
                if burst or worker.stop_requested:
                    return
                reason = "RQ's work loop ended on an error (logged above)"
            except (RedisConnectionError, RedisTimeoutError) as err:
                reason = f"Redis went away ({err})"
            wait = 1.0 if time.monotonic() - started > 60 else min(wait * 2, 30.0)  # back off only while it stays away
            log.warning("%s; the worker starts again in %.0f s", reason, wait)
            time.sleep(wait)
    except StopRequested:  # a stop between two work loops, while the last loop's signal handlers are installed
        return
