"""Where jobs enqueued before the backend was split by concern are found. RQ stores a job as its
function's dotted path, and those jobs were stored as `backend.jobs.<name>`; a deployment upgraded
while some wait in the queue or for a retry still runs them (a correction among them is never
lost). Jobs enqueued now are stored under the modules that define them."""

from __future__ import annotations

from .builds import build_library_job
from .webhooks import webhook_job

__all__ = ["build_library_job", "webhook_job"]
