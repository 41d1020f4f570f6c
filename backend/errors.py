"""The backend's errors, under the engine's one root, each message saying what to do:

    ReverseNERError                 reversener.errors: the root of everything this project raises
    └── BackendError                raised by the backend, never by the engine
        ├── LabelStudioError        Label Studio could not be reached or refused a request
        ├── TaskFailed              one task's prediction could not be made; the task gets none
        ├── BuildFailed             an LLM call of a library build failed: the library would be partial
        ├── RetryLater              a webhook event cannot be applied yet: it waits in the spool
        └── ApiError (backend.app)  a request the caller can fix: answered with its HTTP status
"""

from __future__ import annotations

from reversener.errors import ReverseNERError

__all__ = ["BackendError", "LabelStudioError", "TaskFailed", "BuildFailed", "RetryLater"]


class BackendError(ReverseNERError):
    """Root of the backend's own errors."""


class LabelStudioError(BackendError):
    """Label Studio could not be reached or refused a request."""


class TaskFailed(BackendError):
    """A task's prediction could not be made (the LLM failed or answered nothing usable)."""


class BuildFailed(BackendError):
    """The LLM failed during a build: the library would be partial."""


class RetryLater(BackendError):
    """A webhook event that cannot be applied now (a text behind a URL unreadable) but may be later:
    it waits in the spool, so a correction is never dropped."""
