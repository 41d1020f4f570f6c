"""Plain data types shared by every step of the method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Mention", "Span", "Sentence", "Example", "Source"]

Source = Literal["synthetic", "human"]


@dataclass(frozen=True)
class Mention:
    """An entity as the LLM names it: surface text and type, not yet located in the text, and how
    sure the LLM was of it (None where unknown)."""

    text: str
    type: str
    score: float | None = field(default=None, compare=False)


@dataclass(frozen=True, order=True)
class Span:
    """A labeled character span [start, end) in Python code points, with the model's confidence
    in it (None for gold and human spans, and where the LLM gave nothing to measure it by)."""

    start: int
    end: int
    label: str
    score: float | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.label)


@dataclass(frozen=True)
class Sentence:
    """A text with its labeled spans (gold data, a prediction, or a demonstration)."""

    text: str
    spans: tuple[Span, ...] = ()

    def mentions(self) -> list[Mention]:
        return [Mention(self.text[s.start : s.end], s.label) for s in self.spans]


@dataclass(frozen=True)
class Example:
    """One demonstration in the example library, with where it came from; for a human correction,
    `fixes` counts the regions of the model's prediction the annotator changed (retyped, re-bounded,
    deleted or added), 0 where it accepted them all or the prediction is unknown."""

    id: str
    text: str
    spans: tuple[Span, ...]
    source: Source = "synthetic"
    fixes: int = 0

    @property
    def sentence(self) -> Sentence:
        return Sentence(self.text, self.spans)
