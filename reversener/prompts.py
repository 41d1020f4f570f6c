"""Loads the prompt templates that live in `templates/*.jinja`; no prompt text lives in Python."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from .errors import ConfigError

__all__ = ["render", "templates_hash", "TEMPLATE_NAMES"]

# What a library build reads (recognition too, to verify templates); the hints are added per project after.
BUILD_TEMPLATES = (
    "recognize_system", "recognize_user", "generate_entities", "reverse_sentence", "sentence_template",
)
TEMPLATE_NAMES = (*BUILD_TEMPLATES, "recognize_hints")

# Sandboxed: task texts and label hints flow into templates as data and must not run code.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


@cache
def _source(name: str) -> str:
    if name not in TEMPLATE_NAMES:
        raise ConfigError(f"unknown prompt template {name!r}; known: {', '.join(TEMPLATE_NAMES)}")
    return resources.files(__package__).joinpath("templates", f"{name}.jinja").read_text("utf-8")


@cache
def _template(name: str):
    return _ENV.from_string(_source(name))  # compiled once per process, not on every render


def render(name: str, **variables: object) -> str:
    """Render one template; a missing variable raises instead of printing nothing."""
    return _template(name).render(**variables).strip()


@cache
def templates_hash() -> str:
    """Changes whenever a template a build reads changes, so libraries keyed by it miss."""
    digest = hashlib.sha256()
    for name in BUILD_TEMPLATES:
        digest.update(name.encode() + b"\0" + _source(name).encode() + b"\0")
    return digest.hexdigest()[:16]
