"""What the project's corrections teach, applied to a prediction as it is served.

The LLM's answer is kept as it was given; the thresholds learned per type, the project's span
model, then the memory of names (and, for an interactive pre-annotation, the names the annotator
has just labeled in the task) are applied each time it is served, so what a correction teaches
reaches every later answer, kept ones included, without asking the LLM again. Regions the memory
set say so in their `meta` and carry the annotators' agreement as score; those the span model added
say so too, with its score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reversener.corrections import NameMemory
from reversener.labelstudio import to_results
from reversener.span_model import LearnedSpans
from reversener.thresholds import Thresholds

from .label_config import NerTarget

__all__ = ["recall", "context_memory", "NOTE", "SPAN_NOTE"]

NOTE = "from this project's corrections: annotators labeled this name so"
SPAN_NOTE = "from this project's span model, trained on its corrections: the LLM missed it"
NO_THRESHOLDS = Thresholds()


def recall(answer: dict, texts: Sequence[str | None], targets: Sequence[NerTarget], version: str,
           memories: Iterable[NameMemory], thresholds: Thresholds = NO_THRESHOLDS,
           learned: LearnedSpans | None = None) -> tuple[dict, dict[str, int]]:
    """The answer as served under `version`: the LLM's regions below their type's learned threshold
    dropped, the span model's added, then each memory applied in turn, to every target whose text
    is in the task (a text behind a URL is not read again to serve it); and counts for /metrics."""
    memories = [m for m in memories if len(m)]
    counts = {"memory_regions": 0, "memory_dropped": 0, "threshold_dropped": 0, "span_model_regions": 0}
    if not memories and not thresholds and not learned:
        return answer | {"model_version": version}, counts
    results: list[dict] = []
    for target, text in zip(targets, texts, strict=True):
        if not text or target.by_url:
            results += target.regions(answer.get("result"))
            continue
        found = target.spans(text, answer.get("result"))
        spans = thresholds.apply(found)
        counts["threshold_dropped"] += len(found) - len(spans)
        added: set[tuple[int, int, str]] = set()
        if learned:
            before = {s.key for s in spans}
            spans = learned.add(text, spans, target.types)
            added = {s.key for s in spans} - before
        remembered: set[tuple[int, int, str]] = set()
        for memory in memories:
            recalled = memory.apply(text, spans, target.types)
            spans = list(recalled.spans)
            remembered = (remembered & {s.key for s in spans}) | set(recalled.remembered)
            counts["memory_dropped"] += recalled.dropped
        counts["memory_regions"] += len(remembered)
        added = (added & {s.key for s in spans}) - remembered
        counts["span_model_regions"] += len(added)
        notes = dict.fromkeys(added, SPAN_NOTE) | dict.fromkeys(remembered, NOTE)
        for region in to_results(text, spans, target.from_name, target.to_name):
            value = region["value"]
            note = notes.get((value["start"], value["end"], value["labels"][0]))
            results.append(region | {"meta": {"text": [note]}} if note else region)
    return answer | {"result": results, "model_version": version}, counts


def context_memory(context: dict | None, texts: Sequence[str | None], targets: Sequence[NerTarget]) -> NameMemory:
    """The names an annotator labeled in the task so far (Label Studio's interactive pre-annotation
    sends them as `context.result`): each other occurrence in the task gets the same label."""
    said: dict[str, str] = {}
    result = context.get("result") if isinstance(context, dict) else None
    for target, text in zip(targets, texts, strict=True):
        if text:
            said |= {text[s.start : s.end]: s.label for s in target.spans(text, result)}
    return NameMemory([said], min_agreement=1.0)
