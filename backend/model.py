"""The model in Label Studio's ML-backend shape (LabelStudioMLBase): setup(), predict(tasks,
context), fit(event, data) and model_version. Thin: predicting, learning and building live in
their own modules; this class binds them to one project and label config."""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

from .learning import fit
from .predictions import Predictor
from .project import ProjectConfig
from .services import Services, get_services
from .versions import ModelState, read_state

__all__ = ["ReverseNERModel"]


class ReverseNERModel:
    """One project and label config; cheap to create, as Label Studio asks for one per request."""

    def __init__(self, project: str, label_config: str, services: Services | None = None) -> None:
        self.services = services or get_services()
        self.project = str(project)
        self.label_config = label_config
        self.setup()

    def setup(self) -> None:
        """Parse the label config (ConfigError if it has no <Labels> on a <Text>); never builds
        anything, as Label Studio gives /setup 3 seconds."""
        self.config = ProjectConfig.parse(self.project, self.label_config, self.services.settings)

    @cached_property
    def state(self) -> ModelState:
        """The libraries and model_version, read once per model: one model_version per request."""
        return read_state(self.services, self.config)

    @property
    def model_version(self) -> str:
        return self.state.version

    def predict(self, tasks: list[dict], context: dict | None = None, **kwargs: Any) -> list[dict | list]:
        """One answer per task, in order: a prediction, or an empty list for a task that failed or
        was not done within PREDICT_DEADLINE (it goes on in the background). `context` is Label
        Studio's interactive-annotation context: other occurrences of the names the annotator has
        labeled in the task get the same label."""
        seconds = self.services.settings.predict_deadline
        deadline = time.monotonic() + seconds if seconds > 0 else None
        return Predictor(self.services, self.config, self.state, context).predict(tasks, deadline)

    def fit(self, event: str, data: dict, **kwargs: Any) -> dict[str, object]:
        """Apply one webhook event to the project's library; returns what changed."""
        return fit(self.services, self.config, event, data)
