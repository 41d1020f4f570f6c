"""The small seam every method step calls the LLM through; tests put a scripted fake behind it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol, runtime_checkable

from ..errors import LLMError

__all__ = ["LLMRequest", "LLMStats", "LLMClient", "Progress", "Completion", "TokenLogprobs"]

# Advances a bar by this many items; a fraction where one item (a text) takes several LLM calls.
Progress = Callable[[float], None]
TokenLogprobs = tuple[tuple[str, float], ...]  # (token text, natural-log probability), in answer order


class Completion(str):
    """An answer's text; where the request asked for them and the provider sent them, it also
    carries its tokens' log-probabilities. A str, so every step that only reads text is unchanged."""

    logprobs: TokenLogprobs | None

    def __new__(cls, text: str, logprobs: TokenLogprobs | None = None) -> Completion:
        completion = super().__new__(cls, text)
        completion.logprobs = logprobs
        return completion


@dataclass(frozen=True)
class LLMRequest:
    """One prompt and how to sample it; `samples` answers come back for it."""

    messages: tuple[tuple[str, str], ...]  # (role, content)
    samples: int = 1
    temperature: float = 0.0
    max_tokens: int = 384
    json_mode: bool = True
    logprobs: bool = False  # ask for the answer tokens' log-probabilities (confidence scores)

    def as_chat(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass
class LLMStats:
    """Running counters of what the LLM cost; safe to update from several threads."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    failures: int = 0
    # What answers served from the cache cost when they were made: a rerun still reports the cost.
    cache_hits: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    cached_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def since(self, before: dict[str, float]) -> dict[str, float]:
        """Counters accrued since an earlier snapshot."""
        return {k: v - before.get(k, 0) for k, v in self.snapshot().items()}

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


@runtime_checkable
class LLMClient(Protocol):
    """Answers a batch of requests: per request, its sampled texts, or the LLMError that ended it."""

    model: str
    stats: LLMStats

    def complete(
        self, requests: Sequence[LLMRequest], progress: Progress | None = None
    ) -> list[list[str] | LLMError]: ...
