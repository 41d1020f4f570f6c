"""Label Studio's JSON shapes for NER: spans to `labels` results and back. Pure data, no server."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable, Sequence

from .types import Span

__all__ = ["to_results", "prediction", "spans_from_results"]

log = logging.getLogger(__name__)


def to_results(text: str, spans: Iterable[Span], from_name: str = "label", to_name: str = "text") -> list[dict]:
    """One `labels` region per span; ids are stable so re-predicting the same text gives the same ids."""
    return [
        {
            "id": hashlib.sha1(f"{s.start}:{s.end}:{s.label}".encode()).hexdigest()[:10],
            "from_name": from_name,
            "to_name": to_name,
            "type": "labels",
            "value": {"start": s.start, "end": s.end, "text": text[s.start : s.end], "labels": [s.label]},
            **({} if s.score is None else {"score": round(s.score, 4)}),
        }
        for s in spans
    ]


def prediction(results: Sequence[dict], model_version: str, score: float | None = None) -> dict:
    """A Label Studio prediction from its regions: the one builder for the CLI and the backend.

    Its score ranks tasks for review, lowest first: the model's confidence in its whole answer where
    known (it also falls where the model hesitated to stop, a likely miss), else its weakest region's.
    With no confidence to give, the prediction has no score (a failure never gets here)."""
    if score is None:
        known = [r["score"] for r in results if "score" in r]
        score = min(known) if known else None
    answer = {"result": list(results), "model_version": model_version}
    return answer if score is None else answer | {"score": round(score, 4)}


def spans_from_results(text: str, results: Iterable[dict], types: Collection[str]) -> list[Span]:
    """Spans of the given types from `labels` results; regions with bad offsets are skipped and logged."""
    spans: list[Span] = []
    for region in results:
        value = region.get("value") if isinstance(region, dict) else None
        if not isinstance(value, dict) or not isinstance(value.get("labels"), list):
            continue
        start, end = value.get("start"), value.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            log.warning("skipped a region with offsets %r..%r outside a text of %d characters", start, end, len(text))
            continue
        if isinstance(value.get("text"), str) and value["text"] != text[start:end]:
            # Label Studio collapses repeated whitespace in a region's `text` (label-studio#3078);
            # the offsets are what point into the task, so they win. No task text in the log.
            log.info("region %r..%r: its text differs from the task text at its offsets; offsets trusted", start, end)
        spans.extend(Span(start, end, label) for label in value["labels"] if label in types)
    return sorted(set(spans))
