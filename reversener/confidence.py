"""Confidence from an answer's token log-probabilities: how sure the LLM was of each entity it
named, and of its answer as a whole (docs/method.md, Confidence scores, says why these measures)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import replace

from .llm.client import TokenLogprobs
from .types import Mention, Span

_TYPE_VALUE = re.compile(r'"(?:type|label|entity_type|category|tag)"\s*:\s*"([^"]*)"')

__all__ = ["answer_confidence", "score_mentions", "mention_logprobs", "weakest", "task_score", "above"]


def answer_confidence(text: str, logprobs: TokenLogprobs | None) -> float | None:
    """The probability of the answer's least likely token, None without log-probabilities. It falls
    where the model hesitated anywhere: over a name, a type, or whether to close the list (a miss)."""
    if not logprobs:
        return None
    return math.exp(min(logprob for _, logprob in logprobs))


def above(spans: Sequence[Span], threshold: float) -> list[Span]:
    """The spans whose score reaches `threshold` (MIN_SCORE); those without a score are kept."""
    return [s for s in spans if s.score is None or s.score >= threshold]


def task_score(confidence: float | None, spans: Sequence[Span]) -> float | None:
    """The score Label Studio sorts tasks by, lowest first: the answer's confidence times its least
    sure region's score (1 where no region is scored). At the default MIN_SCORE it ranked the tasks
    predicted exactly right above the others better than the confidence alone in every quality row
    (docs/method.md, Confidence scores); None where the confidence is unknown."""
    if confidence is None:
        return None
    return confidence * min((s.score for s in spans if s.score is not None), default=1.0)


def weakest(confidences: Sequence[float | None]) -> float | None:
    """Confidence in several answers together (a text's chunks, a task's texts, combined answers):
    the least sure one's; unknown if any is unknown or there is none."""
    known = [c for c in confidences if c is not None]
    if not confidences or len(known) < len(confidences):
        return None
    return min(known)


def score_mentions(text: str, logprobs: TokenLogprobs | None, mentions: Sequence[Mention]) -> list[Mention]:
    """Each mention scored by the probability the LLM gave to writing it: the product of the
    probabilities of the tokens that spell its name and, in the same JSON object, its type. Mentions
    keep score None without log-probabilities or where the name is not found in the answer."""
    return [mention if tokens is None else replace(mention, score=math.exp(sum(tokens[0]) + sum(tokens[1])))
            for mention, tokens in zip(mentions, mention_logprobs(text, logprobs, mentions), strict=True)]


def mention_logprobs(
    text: str, logprobs: TokenLogprobs | None, mentions: Sequence[Mention]
) -> list[tuple[list[float], list[float]] | None]:
    """Per mention, the log-probabilities of the tokens spelling its name and those spelling its
    type; None without log-probabilities or where the name is not in the answer."""
    if not logprobs:
        return [None for _ in mentions]
    tokens = _token_offsets(text, logprobs)
    found_all: list[tuple[list[float], list[float]] | None] = []
    cursor = 0
    for mention in mentions:
        found = _find_value(text, mention.text, cursor)
        if found is None:
            found_all.append(None)
            continue
        cursor = found[1]
        kind = _type_value(text, *found)
        name = [lp for start, end, lp in tokens if start < found[1] and end > found[0]]
        spelled = [lp for start, end, lp in tokens if kind and start < kind[1] and end > kind[0]]
        found_all.append((name, spelled) if name else None)
    return found_all


def _type_value(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the type of the name at [start, end) is spelled: a type key's value in the same object."""
    opening, closing = text.rfind("{", 0, start), text.find("}", end)
    if opening == -1 or closing == -1:
        return None
    for match in _TYPE_VALUE.finditer(text, opening, closing):
        if not start <= match.start(1) < end:
            return match.span(1)
    return None


def _find_value(text: str, name: str, cursor: int) -> tuple[int, int] | None:
    """Where a name is spelled in the answer: as JSON writes it, first after the previous name."""
    spelled = json.dumps(name, ensure_ascii=False)[1:-1]
    for needle in dict.fromkeys((spelled, name)):
        for origin in (cursor, 0):
            start = text.find(needle, origin)
            if start != -1:
                return start, start + len(needle)
    return None


def _token_offsets(text: str, logprobs: TokenLogprobs) -> list[tuple[int, int, float]]:
    """Character range of each token in the answer. Token strings usually concatenate to the
    answer; where a server dropped bytes of a split character, each token is found after the last."""
    offsets, position = [], 0
    for token, logprob in logprobs:
        if text.startswith(token, position):
            start = position
        else:
            found = text.find(token, position) if token else -1
            start = found if found != -1 and found - position <= 4 else position
        end = start + len(token) if text.startswith(token, start) else start
        offsets.append((start, end, logprob))
        position = end
    return offsets
