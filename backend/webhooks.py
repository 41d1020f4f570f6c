"""Label Studio's webhook events: queued in arrival order, applied to the library by a job, and
kept in a spool on disk while they cannot be (Redis away, a text behind a URL not readable yet)."""

from __future__ import annotations

import logging
from functools import partial

from redis.exceptions import RedisError

from .errors import RetryLater
from .learning import fit
from .project import ProjectConfig
from .services import Services, get_services
from .spool import WebhookSpool

__all__ = ["submit_webhook", "webhook_job", "apply_webhook", "spool"]

log = logging.getLogger(__name__)


def submit_webhook(services: Services, event: dict) -> None:
    """Queue a webhook event ({action, project, label_config, data}); while Redis is unreachable it
    waits in the spool."""
    try:
        services.jobs.enqueue("webhooks", webhook_job, event)
    except RedisError:
        spool(services).add(event)


def webhook_job(event: dict) -> dict[str, object] | None:
    """The background job for a webhook; if Redis is gone, or a text behind a URL cannot be read
    yet, the event waits in the spool."""
    services = get_services()
    try:
        return apply_webhook(services, event)
    except (RedisError, RetryLater):
        spool(services).add(event)
        return None


def apply_webhook(services: Services, event: dict) -> dict[str, object]:
    """Apply one webhook event to the project's library."""
    config = ProjectConfig.parse(event["project"], event["label_config"], services.settings)
    outcome = fit(services, config, event["action"], event["data"])
    log.info("project %s: %s -> %s", event["project"], event["action"], outcome)
    return outcome


def spool(services: Services) -> WebhookSpool:
    """The process's spool of webhook events not applied yet; replaying one applies it."""
    return services.open_spool(partial(apply_webhook, services))
