"""A project as the backend sees it: its id, its label config parsed into targets, and each
target's library key. A plain value: builds, webhooks and pre-labeling read it without a model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from reversener import __version__
from reversener.prompts import templates_hash
from reversener.settings import Settings

from .label_config import NerTarget, parse_label_config

__all__ = ["ProjectConfig", "project_id", "library_key", "method_tag"]


def project_id(value: object) -> str:
    """Label Studio sends "<id>.<created_at>" to /setup and /predict, and {"id": ...} in webhooks."""
    if isinstance(value, dict):
        value = value.get("id")
    text = str(value if value is not None else "").split(".")[0].strip()
    if not text:
        raise ValueError("the request names no project")
    return text


def library_key(settings: Settings, target: NerTarget) -> str:
    """Everything a library depends on: a change in any of them means a new library."""
    return _digest({"types": target.types, "llm": settings.llm_model or "local", "engine": __version__,
                    "prompts": templates_hash(), "method": settings.build_settings(),
                    "embedder": settings.embedding_model or "bundled"}, 16)


def method_tag(settings: Settings) -> str:
    """The method settings a build does not read (MIN_SCORE, COMBINE_ZERO_SHOT, ...): changing one keeps
    the library but changes the predictions, so it is part of the model_version."""
    return _digest(settings.use_settings(), 4)


def _digest(value: dict[str, Any], length: int) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class ProjectConfig:
    """One project's label config: what to predict (a target per <Labels> on a <Text>) and, per
    target, the key of the library it predicts with."""

    project: str
    label_config: str
    targets: tuple[NerTarget, ...]
    keys: tuple[str, ...]

    @classmethod
    def parse(cls, project: str, label_config: str, settings: Settings) -> ProjectConfig:
        """Raises ConfigError for a label config this backend cannot predict for."""
        targets = tuple(parse_label_config(label_config))
        return cls(str(project), label_config, targets, tuple(library_key(settings, t) for t in targets))
