"""The project's memory of names applied to a prediction as it is served.

The LLM's answer is kept as it was given; the memory (and, for an interactive pre-annotation, the
names the annotator has just labeled in the task) is applied each time it is served, so a name
learned from a correction reaches every later answer, kept ones included, without asking the LLM
again. Regions the memory set say so in their `meta` and carry the annotators' agreement as score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reversener.corrections import NameMemory
from reversener.labelstudio import spans_from_results, to_results
from reversener.types import Span

from .label_config import NerTarget

__all__ = ["recall", "context_memory", "NOTE"]

NOTE = "from this project's corrections: annotators labeled this name so"


def recall(answer: dict, texts: Sequence[str | None], targets: Sequence[NerTarget], version: str,
           memories: Iterable[NameMemory]) -> tuple[dict, dict[str, int]]:
    """The answer as served under `version`, with each memory applied in turn to every target whose
    text is in the task (a text behind a URL is not read again to serve it); and counts for /metrics."""
    memories = [m for m in memories if len(m)]
    counts = {"memory_regions": 0, "memory_dropped": 0}
    if not memories:
        return answer | {"model_version": version}, counts
    results: list[dict] = []
    for target, text in zip(targets, texts, strict=True):
        own = target.regions(answer.get("result"))
        if not text or target.by_url:
            results += own
            continue
        spans = _spans(text, own, target)
        remembered: set[tuple[int, int, str]] = set()
        for memory in memories:
            recalled = memory.apply(text, spans, target.types)
            spans = list(recalled.spans)
            remembered = (remembered & {s.key for s in spans}) | set(recalled.remembered)
            counts["memory_dropped"] += recalled.dropped
        counts["memory_regions"] += len(remembered)
        for region in to_results(text, spans, target.from_name, target.to_name):
            value = region["value"]
            noted = (value["start"], value["end"], value["labels"][0]) in remembered
            results.append(region | {"meta": {"text": [NOTE]}} if noted else region)
    return answer | {"result": results, "model_version": version}, counts


def context_memory(context: dict | None, texts: Sequence[str | None], targets: Sequence[NerTarget]) -> NameMemory:
    """The names an annotator labeled in the task so far (Label Studio's interactive pre-annotation
    sends them as `context.result`): each other occurrence in the task gets the same label."""
    said: dict[str, str] = {}
    result = context.get("result") if isinstance(context, dict) else None
    for target, text in zip(targets, texts, strict=True):
        if text:
            said |= {text[s.start : s.end]: s.label for s in spans_from_results(text, target.regions(result),
                                                                                target.types)}
    return NameMemory([said], min_agreement=1.0)


def _spans(text: str, regions: list[dict], target: NerTarget) -> list[Span]:
    """The regions' spans with their scores (spans_from_results reads labels and offsets only: human
    labels carry none)."""
    scores = {(r["value"]["start"], r["value"]["end"]): r.get("score") for r in regions
              if isinstance(r.get("value"), dict)}
    return [Span(s.start, s.end, s.label, scores.get((s.start, s.end)))
            for s in spans_from_results(text, regions, target.types)]
