"""Sentence splitting and chunking that keep character offsets, so spans map back to the text."""

from __future__ import annotations

import re

__all__ = ["split_sentences", "chunk_text"]

# A sentence ends at . ! ? (with any closing quote or bracket) before whitespace and a capital,
# or at a line break. A missed abbreviation only costs a little context, never an offset.
_BOUNDARY = re.compile(r"([.!?][\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|etc|No|Gen|Col|Lt|Sgt|Rev)|\b[A-Z])\.$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank sentence, trimmed of surrounding whitespace."""
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1) if match.group(1) else match.start()
        if match.group(1) and _ABBREVIATION.search(text, start, end):
            continue
        pieces.append((start, end))
        start = match.end()
    pieces.append((start, len(text)))
    return [trimmed for piece in pieces if (trimmed := _trim(text, *piece))]


def chunk_text(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Sentences, with any longer than max_chars cut at whitespace (or hard, if there is none)."""
    chunks: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        while end - start > max_chars:
            cut = text.rfind(" ", start + 1, start + max_chars)
            cut = cut if cut > start else start + max_chars
            if trimmed := _trim(text, start, cut):
                chunks.append(trimmed)
            start = cut
        if trimmed := _trim(text, start, end):
            chunks.append(trimmed)
    return chunks


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None
