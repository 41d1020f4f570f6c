"""Human corrections at the recognizer's granularity: one example per chunk it would ask about.

A corrected paragraph stored whole would be a document among sentence-sized demonstrations, and it
would cost a prompt several chunks' worth; split as the recognizer chunks texts, each part is shown
beside the chunks it resembles and costs what one chunk costs.
"""

from __future__ import annotations

from .config import MethodConfig
from .text import chunk_text
from .types import Example, Span

__all__ = ["split_correction"]


def split_correction(example: Example, config: MethodConfig) -> list[Example]:
    """The example as the chunks `Recognizer.recognize` would ask about (MAX_CHUNK_CHARS,
    PACK_SENTENCES), each with its spans re-based to it. A text of one chunk is returned as it is
    (same id); several get ids `<id>#<k>`, k counting from 0, each with the source of the original.
    No span is ever cut: where one runs across a border between two sentences, those sentences count
    as one when packing, so that chunk may differ from the recognizer's (and exceed the budget if
    the joined sentences do). Spans are clipped to their chunk's trimmed ends, where only
    whitespace is lost; a blank text gives no example."""
    ranges = [(s.start, s.end) for s in example.spans]
    chunks = chunk_text(example.text, config.max_chunk_chars, config.pack_sentences, whole=ranges)
    if len(chunks) <= 1:
        return [example] if chunks else []
    return [Example(f"{example.id}#{k}", example.text[start:end], _rebased(example.spans, start, end), example.source)
            for k, (start, end) in enumerate(chunks)]


def _rebased(spans: tuple[Span, ...], start: int, end: int) -> tuple[Span, ...]:
    """The spans that overlap [start, end), clipped to it and counted from start."""
    return tuple(sorted(Span(max(s.start, start) - start, min(s.end, end) - start, s.label, s.score)
                        for s in spans if s.start < end and s.end > start))
