"""What an annotator changed in a prediction, what a project's corrections teach, and how a
correction is stored.

`diff` compares the spans the model predicted for a text with the spans an annotator submitted:
each region is accepted, retyped, rebounded, deleted (a false positive) or added (a miss).
`NameMemory` gathers, over a project's corrections, how annotators labeled each name, and applies
that to a later prediction: a name labeled one way is labeled so wherever it occurs verbatim, and a
name annotators only ever deleted is not predicted again. `split_correction` stores a corrected text at
the recognizer's granularity: a paragraph stored whole would be a document among sentence-sized
demonstrations and cost several chunks' worth of prompt; split as the recognizer chunks texts, each
part is shown beside the chunks it resembles. Pure data: the backend stores them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from .align import find_all
from .config import MethodConfig
from .text import chunk_text
from .types import Example, Sentence, Span

__all__ = ["Edit", "EditKind", "diff", "votes", "NameMemory", "Recalled", "NOT_AN_ENTITY",
           "Hints", "learn_hints", "split_correction", "split_spans"]

EditKind = Literal["accepted", "retyped", "rebounded", "deleted", "added"]
NOT_AN_ENTITY = ""  # the vote of an annotator who deleted a predicted name


@dataclass(frozen=True)
class Edit:
    """One region's fate: `span` as submitted (None when deleted), `was` as predicted (None when added)."""

    kind: EditKind
    span: Span | None
    was: Span | None


def diff(predicted: Iterable[Span], annotated: Iterable[Span]) -> list[Edit]:
    """Each predicted and each submitted region paired once: same offsets first, then largest overlaps first."""
    left = sorted(set(s.key for s in predicted))
    right = sorted(set(s.key for s in annotated))
    edits: list[Edit] = []
    for key in [k for k in right if k in left]:
        edits.append(Edit("accepted", Span(*key), Span(*key)))
        left.remove(key)
        right.remove(key)
    for start, end, label in list(right):
        same = [k for k in left if k[:2] == (start, end)]
        if same:
            edits.append(Edit("retyped", Span(start, end, label), Span(*same[0])))
            left.remove(same[0])
            right.remove((start, end, label))
    pairs = sorted(((min(r[1], k[1]) - max(r[0], k[0]), r, k) for r in right for k in left), reverse=True)
    for overlap, now, was in pairs:
        if overlap > 0 and now in right and was in left:
            edits.append(Edit("rebounded", Span(*now), Span(*was)))
            left.remove(was)
            right.remove(now)
    edits += [Edit("deleted", None, Span(*k)) for k in left]
    edits += [Edit("added", Span(*k), None) for k in right]
    return sorted(edits, key=lambda e: (e.span or e.was).key)  # type: ignore[union-attr]


def votes(text: str, edits: Iterable[Edit]) -> dict[str, str]:
    """What one annotation says about names: name -> its label, or NOT_AN_ENTITY for a predicted name
    the annotator deleted and labeled nowhere in the text."""
    said: dict[str, str] = {}
    for edit in edits:
        if edit.span is not None:
            said[text[edit.span.start : edit.span.end]] = edit.span.label
    for edit in edits:
        if edit.kind == "deleted" and edit.was is not None:
            said.setdefault(text[edit.was.start : edit.was.end], NOT_AN_ENTITY)
    return {name: label for name, label in said.items() if name.strip() == name and name}


class NameMemory:
    """A project's names and what its annotators said of them, one vote per annotation and name.

    A name is applied only where annotators agree on it by at least `min_agreement`; its regions'
    score is that agreement."""

    def __init__(self, annotations: Iterable[Mapping[str, str]] = (), min_agreement: float = 0.75) -> None:
        self.min_agreement = min_agreement
        self._votes: dict[str, Counter[str]] = {}
        for said in annotations:
            for name, label in said.items():
                self._votes.setdefault(name, Counter())[label] += 1
        found = {name: v for name in self._votes if (v := self.verdict(name)) is not None}
        # Fixed once built: every answer served reads it, so it is settled here, not per answer.
        self._known = dict(sorted(found.items(), key=lambda item: (-len(item[0]), item[0])))

    def __len__(self) -> int:
        return len(self._votes)

    def verdict(self, name: str) -> tuple[str, float, int] | None:
        """(label or NOT_AN_ENTITY, agreement, votes) for a name annotators agree on; None otherwise."""
        counts = self._votes.get(name)
        if not counts:
            return None
        label, top = counts.most_common(1)[0]
        total = sum(counts.values())
        return (label, top / total, total) if top / total >= self.min_agreement else None

    def digest(self) -> str:
        """A short hash of the verdicts: it changes when what the memory would do changes."""
        verdicts = sorted((name, label) for name, (label, _, _) in self.known().items())
        return hashlib.sha256(json.dumps(verdicts, ensure_ascii=False).encode()).hexdigest()[:6]

    def known(self) -> dict[str, tuple[str, float, int]]:
        """Every name with a verdict, longest first."""
        return dict(self._known)

    def apply(self, text: str, spans: Sequence[Span], types: Iterable[str] | None = None) -> Recalled:
        """`spans` with the memory's verdicts: deleted names dropped, known names labeled at every
        verbatim occurrence (word boundaries, case as written) unless inside a longer predicted name."""
        allowed = None if types is None else set(types)
        known = {n: v for n, v in self.known().items() if allowed is None or v[0] in allowed or not v[0]}
        kept = [s for s in spans if known.get(text[s.start : s.end], ("-",))[0] != NOT_AN_ENTITY]
        dropped = len(spans) - len(kept)
        taken: list[Span] = []
        for name, (label, agreement, _) in known.items():
            if label == NOT_AN_ENTITY:
                continue
            for start, end in find_all(text, name):
                if any(s.start < end and start < s.end for s in taken):
                    continue  # a longer remembered name holds it already
                if any(s.start <= start and end <= s.end and (s.start, s.end) != (start, end) for s in kept):
                    continue  # part of a longer name the model found
                kept = [s for s in kept if not (s.start < end and start < s.end)]
                taken.append(Span(start, end, label, agreement))
        return Recalled(tuple(sorted(kept + taken)), frozenset(s.key for s in taken), dropped)


@dataclass(frozen=True)
class Recalled:
    """A prediction after the memory: its spans, which of them the memory set, how many it dropped."""

    spans: tuple[Span, ...]
    remembered: frozenset[tuple[int, int, str]]
    dropped: int


@dataclass(frozen=True)
class Hints:
    """What a project's annotators corrected, for the recognition prompt: per type, names they labeled
    so where the model had missed or mistyped them, and names they deleted from its answers."""

    labeled: dict[str, tuple[str, ...]]
    deleted: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.labeled or self.deleted)

    def only(self, types: Iterable[str]) -> Hints:
        """The hints of these types (and the deleted names)."""
        wanted = set(types)
        return Hints({label: names for label, names in self.labeled.items() if label in wanted}, self.deleted)

    def digest(self) -> str:
        """A short hash: it changes whenever the prompt the hints make changes."""
        blob = json.dumps([sorted(self.labeled.items()), self.deleted], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:6]


def learn_hints(corrected: Iterable[tuple[Sentence, Sequence[Span]]], memory: NameMemory, per_type: int) -> Hints:
    """From (corrected text, what the model had predicted in it) pairs: the names the model got wrong
    most often, at most `per_type` per type and as many deleted ones. A name is a hint only where the
    project's annotators agree on it (`memory`'s verdict), so one inconsistent correction says nothing."""
    errors: Counter[tuple[str, str]] = Counter()
    for sentence, predicted in corrected:
        for edit in diff(predicted, sentence.spans):
            if edit.kind in ("retyped", "rebounded", "added") and edit.span is not None:
                errors[sentence.text[edit.span.start : edit.span.end], edit.span.label] += 1
            elif edit.kind == "deleted" and edit.was is not None:
                errors[sentence.text[edit.was.start : edit.was.end], NOT_AN_ENTITY] += 1
    ranked: dict[str, list[str]] = {}
    for (name, label), _ in sorted(errors.items(), key=lambda item: (-item[1], item[0])):
        verdict = memory.verdict(name)
        if verdict is not None and verdict[0] == label and len(ranked.setdefault(label, [])) < per_type:
            ranked[label].append(name)
    deleted = tuple(ranked.pop(NOT_AN_ENTITY, ()))
    return Hints({label: tuple(names) for label, names in sorted(ranked.items()) if names}, deleted)


def split_correction(example: Example, config: MethodConfig,
                     predicted: Sequence[Span] | None = None) -> list[Example]:
    """The example as the chunks `Recognizer.recognize` would ask about (MAX_CHUNK_CHARS,
    PACK_SENTENCES), each with its spans re-based to it. A text of one chunk keeps its id; several
    get ids `<id>#<k>`, k counting from 0, each with the source of the original. With `predicted`
    (the model's spans for the whole text), each part's `fixes` counts what the annotator changed of
    them within it. No span is ever cut: where one runs across a border between two sentences, those
    sentences count as one when packing, so that chunk may differ from the recognizer's (and exceed
    the budget if the joined sentences do). Spans are clipped to their chunk's trimmed ends, where
    only whitespace is lost; a blank text gives no example."""
    ranges = _ranges(example, config)
    if len(ranges) == 1:  # kept whole, untrimmed
        parts = [example]
    else:
        parts = [replace(example, id=f"{example.id}#{k}", text=example.text[start:end],
                         spans=_rebased(example.spans, start, end)) for k, (start, end) in enumerate(ranges)]
    if predicted is None:
        return parts
    return [replace(part, fixes=sum(edit.kind != "accepted" for edit in diff(spans, part.spans)))
            for part, spans in zip(parts, split_spans(example, config, predicted), strict=True)]


def split_spans(example: Example, config: MethodConfig, spans: Sequence[Span]) -> list[tuple[Span, ...]]:
    """`spans` of the example's text, re-based to each part `split_correction` makes of it."""
    return [_rebased(tuple(spans), start, end) for start, end in _ranges(example, config)]


def _ranges(example: Example, config: MethodConfig) -> list[tuple[int, int]]:
    """Where each part of a correction lies in its text: the whole text where it is one chunk."""
    whole = [(s.start, s.end) for s in example.spans]
    chunks = chunk_text(example.text, config.max_chunk_chars, config.pack_sentences, whole=whole)
    return [(0, len(example.text))] if len(chunks) == 1 else chunks


def _rebased(spans: tuple[Span, ...], start: int, end: int) -> tuple[Span, ...]:
    """The spans that overlap [start, end), clipped to it and counted from start."""
    return tuple(sorted(Span(max(s.start, start) - start, min(s.end, end) - start, s.label, s.score)
                        for s in spans if s.start < end and s.end > start))
