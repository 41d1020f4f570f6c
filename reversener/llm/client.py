"""The small seam every method step calls the LLM through; tests put a scripted fake behind it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Protocol, runtime_checkable

from ..errors import LLMError

__all__ = ["LLMRequest", "LLMReply", "LLMStats", "LLMClient", "ObservedLLM", "Progress", "Completion",
           "TokenLogprobs"]

# Advances a bar by this many items; a fraction where one item (a text) takes several LLM calls.
Progress = Callable[[float], None]
TokenLogprobs = tuple[tuple[str, float], ...]  # (token text, natural-log probability), in answer order


@dataclass(frozen=True)
class Completion:
    """One sampled answer: its text and, where the request asked for them and the provider sent them,
    its tokens' log-probabilities."""

    text: str
    logprobs: TokenLogprobs | None = None


@dataclass(frozen=True)
class LLMReply:
    """What one request got: its sampled completions, or the LLMError that ended it (never both).
    Failures are values, so one failed request cannot sink the batch it came in."""

    completions: tuple[Completion, ...] = ()
    error: LLMError | None = None

    def __post_init__(self) -> None:
        if (self.error is None) == (not self.completions):
            raise ValueError("an LLMReply holds either completions or an error, exactly one of them")

    @classmethod
    def of(cls, *texts: str) -> LLMReply:
        """A reply of plain texts, without log-probabilities."""
        return cls(tuple(Completion(text) for text in texts))

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def texts(self) -> list[str]:
        return [completion.text for completion in self.completions]


@dataclass(frozen=True)
class LLMRequest:
    """One prompt and how to sample it; `samples` answers come back for it."""

    messages: tuple[tuple[str, str], ...]  # (role, content)
    samples: int = 1
    temperature: float = 0.0
    max_tokens: int = 384
    json_mode: bool = True
    logprobs: bool = False  # ask for the answer tokens' log-probabilities (confidence scores)

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"an LLMRequest needs at least one sample, got samples={self.samples}")

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
    """Answers a batch of requests: one LLMReply per request, in request order."""

    model: str
    stats: LLMStats

    def complete(self, requests: Sequence[LLMRequest], progress: Progress | None = None) -> list[LLMReply]: ...


class ObservedLLM:
    """Another LLMClient whose every batch of replies is shown to `observe` before it is returned:
    the one way to wrap a client, so a caller learns what its steps' calls did (a build counts the
    failed requests) without every step reporting it."""

    def __init__(self, llm: LLMClient, observe: Callable[[list[LLMReply]], None]) -> None:
        self._llm, self._observe = llm, observe
        self.model, self.stats = llm.model, llm.stats

    def complete(self, requests: Sequence[LLMRequest], progress: Progress | None = None) -> list[LLMReply]:
        replies = self._llm.complete(requests, progress)
        self._observe(replies)
        return replies
