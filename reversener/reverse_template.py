"""Step 4, template strategy: the LLM turns a feature sentence into a template by replacing its
names with [TYPE] slots, and generated entities fill the slots, so the labels are exact by
construction. Small models copy sentences instead of rewriting them; abstracting one is easier."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from .llm.client import LLMClient, LLMRequest, Progress
from .parse import json_string
from .prompts import render
from .reverse import unlabeled_names
from .types import Sentence, Span

__all__ = ["write_templates", "example_slots", "fill_template", "template_examples", "slot_names", "squash"]

_SLOT = re.compile(r"\[([A-Za-z][\w\-]*)\]")
_SPACE = re.compile(r"\s+")

# feature sentences -> per sentence, the types an independent recognizer gives each name (names squashed)
Verify = Callable[[Sequence[str]], list[dict[str, set[str]]]]


def write_templates(llm: LLMClient, features: Sequence[str], types: dict[str, str],
                    entities: dict[str, list[str]]) -> list[str | None]:
    """One template per feature sentence (None where the answer held none)."""
    example = example_slots(types, entities)
    requests = [
        LLMRequest((("user", render("sentence_template", types=types, feature=f, example=example)),),
                   max_tokens=2 * len(f) // 3 + 64)
        for f in features
    ]
    return [json_string(reply.texts[0], "template") if reply.ok else None for reply in llm.complete(requests)]


def example_slots(types: dict[str, str], entities: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(type, entity) pairs for the prompt's worked example, in the project's own types: an example
    in fixed types (PER, LOC) gets copied by small models whatever the project's types are."""
    pairs = [(t, entities[t][0] if entities.get(t) else f"Example {t}") for t in types]
    return pairs[:2]


def slot_names(template: str, feature: str) -> list[tuple[str, str]] | None:
    """(slot type, the name it replaced, squashed) per slot, read by matching the template against
    its feature sentence with all whitespace removed (tokenized text spaces its punctuation); None
    where the template changed other words."""
    pattern, labels, cursor = [], [], 0
    for match in _SLOT.finditer(template):
        pattern += [re.escape(squash(template[cursor : match.start()])), "(.+?)"]
        labels.append(match.group(1))
        cursor = match.end()
    pattern.append(re.escape(squash(template[cursor:])))
    found = re.fullmatch("".join(pattern), squash(feature), re.DOTALL | re.IGNORECASE)
    return None if found is None else list(zip(labels, found.groups(), strict=True))


def squash(text: str) -> str:
    """A name compared across tokenizations: no whitespace, case folded."""
    return _SPACE.sub("", text).casefold()


def _disputed(template: str, feature: str, judged: dict[str, set[str]]) -> bool:
    """True when the recognizer gives a name that a slot replaced another type than the slot's."""
    for label, name in slot_names(template, feature) or []:
        types = judged.get(name)
        if types and label.casefold() not in {t.casefold() for t in types}:
            return True
    return False


def fill_template(template: str, entities: dict[str, list[str]], rng: np.random.Generator) -> Sentence | str:
    """The template with each slot replaced by a random entity of its type, or why that fails."""
    canonical = {name.casefold(): name for name in entities}
    parts, spans, cursor, used = [], [], 0, set()
    for match in _SLOT.finditer(template):
        label = canonical.get(match.group(1).casefold())
        if label is None or not entities[label]:
            return "unknown slot type"
        choices = [e for e in entities[label] if e not in used] or entities[label]
        entity = str(choices[int(rng.integers(len(choices)))])
        used.add(entity)
        parts.append(template[cursor : match.start()])
        start = sum(len(p) for p in parts)
        parts.append(entity)
        spans.append(Span(start, start + len(entity), label))
        cursor = match.end()
    parts.append(template[cursor:])
    text = "".join(parts)
    if unlabeled_names(text, spans):
        return "unlabeled name"
    return Sentence(text, tuple(spans))


def template_examples(
    llm: LLMClient, candidates: Sequence[Sequence[str]], types: dict[str, str], entities: dict[str, list[str]],
    per_feature: int, seed: int = 0, progress: Progress | None = None, max_negative_share: float = 0.25,
    verify: Verify | None = None,
) -> tuple[list[Sentence], Counter]:
    """Labeled sentences from filled templates, one template per cluster: when a cluster's nearest
    sentence gives no usable template, its next candidate is tried. Entity-free sentences are kept
    as negative examples (what is not a name), at most `max_negative_share` of the result. With
    `verify`, a template is refused where the recognizer types a replaced name otherwise than its slot:
    the slot's type is the template writer's guess, and a wrong one teaches the wrong type."""
    rng = np.random.default_rng(seed)
    kept: list[Sentence] = []
    negatives: list[Sentence] = []
    reasons: Counter = Counter()
    pending = list(range(len(candidates)))
    for attempt in range(max((len(c) for c in candidates), default=0)):
        batch = [(i, candidates[i][attempt]) for i in pending if attempt < len(candidates[i])]
        templates = write_templates(llm, [feature for _, feature in batch], types, entities)
        judged = verify([feature for _, feature in batch]) if verify else [{} for _ in batch]
        pending = []
        for (i, feature), template, names in zip(batch, templates, judged, strict=True):
            filled = _fill(template, entities, per_feature, rng)
            if template and not isinstance(filled, str) and _disputed(template, feature, names):
                filled = "slot type disputed"
            if isinstance(filled, str):
                reasons[filled] += 1
                if attempt + 1 < len(candidates[i]):
                    pending.append(i)
                    continue
            elif filled[0].spans:
                kept.extend(filled)
            else:
                negatives.extend(filled)
            if progress is not None:
                progress(1)
    cap = int(max_negative_share * len(kept) / (1 - max_negative_share)) if max_negative_share < 1 else len(negatives)
    reasons["negatives over the cap"] += max(0, len(negatives) - cap)
    return kept + negatives[:cap], reasons


def _fill(template: str | None, entities: dict[str, list[str]], times: int, rng) -> list[Sentence] | str:
    """The template filled `times` times (once if it has no slot), or why it is unusable."""
    if not template:
        return "no template in answer"
    filled = []
    for _ in range(times if _SLOT.search(template) else 1):
        result = fill_template(template, entities, rng)
        if isinstance(result, str):
            return result  # a bad template stays bad whatever fills it
        filled.append(result)
    return filled
