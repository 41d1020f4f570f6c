"""Step 3: entities from definitions, the LLM invents names of each type, checked and deduplicated."""

from __future__ import annotations

import logging

from .llm.client import LLMClient, LLMRequest
from .parse import json_values
from .prompts import render

__all__ = ["generate_entities", "clean_entities"]

log = logging.getLogger(__name__)

_OVERSHOOT = 1.5  # ask for more than needed: answers repeat names and slip types
_MAX_WORDS = 8


def generate_entities(
    llm: LLMClient,
    types: dict[str, str],
    count: int,
    *,
    temperature: float = 0.8,
) -> dict[str, list[str]]:
    """Up to `count` distinct names per type; a name proposed for two types is dropped from both."""
    asked = max(count, round(count * _OVERSHOOT))
    requests = [
        LLMRequest(
            (("user", render("generate_entities", types=types, type=name, definition=definition, count=asked)),),
            temperature=temperature,
            max_tokens=24 * asked,
        )
        for name, definition in types.items()
    ]
    proposed: dict[str, list[str]] = {}
    for name, reply in zip(types, llm.complete(requests), strict=True):
        if reply.error is not None:
            log.warning("no entities for %s: %s", name, reply.error)
            proposed[name] = []
            continue
        proposed[name] = _strings(reply.texts[0])
    return clean_entities(proposed, count)


def clean_entities(proposed: dict[str, list[str]], count: int) -> dict[str, list[str]]:
    """Deduplicate case-insensitively, drop over-long and cross-type names, keep the first `count`."""
    owners: dict[str, set[str]] = {}
    for name, values in proposed.items():
        for value in values:
            owners.setdefault(value.casefold(), set()).add(name)
    cleaned: dict[str, list[str]] = {}
    for name, values in proposed.items():
        seen: dict[str, str] = {}
        for value in values:
            key = value.casefold()
            if len(owners[key]) == 1 and len(value.split()) <= _MAX_WORDS:
                seen.setdefault(key, value)
        cleaned[name] = list(seen.values())[:count]
    return cleaned


def _strings(answer: str) -> list[str]:
    """Every string in the first JSON list of the answer (under any key), stripped."""
    for value in json_values(answer):
        items = value
        if isinstance(value, dict):
            items = next((v for v in value.values() if isinstance(v, list)), [])
        if isinstance(items, list):
            found = [item.strip() for item in items if isinstance(item, str) and item.strip()]
            if found:
                return found
    return []
