"""Sentence splitting and chunking that keep character offsets, so spans map back to the text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["split_sentences", "chunk_text"]

# A sentence ends at . ! ? (with any closing quote or bracket) before whitespace and a capital,
# or at a line break. A missed abbreviation only costs a little context, never an offset.
_BOUNDARY = re.compile(r"([.!?][\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])|[\r\n\u2028\u2029]\s*")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|etc|No|Gen|Col|Lt|Sgt|Rev|Mt|Ft|Ave|Fig|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])\.$")
# A number alone before its period opens a list item ("3. Carole Montillet"), also tokenized ("3 ."):
# split there and the LLM is asked about "3." alone while the name loses its line.
_LIST_NUMBER = re.compile(r"\(?\d{1,3}\s?\.")
# Never cut before these: they belong to the character before them (accents, emoji modifiers, ZWJ).
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank sentence, trimmed of surrounding whitespace."""
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1) if match.group(1) else match.start()
        if match.group(1) and (_ABBREVIATION.search(text, start, end)
                               or _LIST_NUMBER.fullmatch(text[start:end].strip())):
            continue
        pieces.append((start, end))
        start = match.end()
    pieces.append((start, len(text)))
    return [trimmed for piece in pieces if (trimmed := _trim(text, *piece))]


def chunk_text(text: str, max_chars: int, pack: bool = True,
               whole: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Consecutive sentences packed into chunks of at most max_chars (with `pack` off, every sentence
    its own chunk); a sentence longer than that is cut at whitespace (or hard, if there is none).
    Ranges in `whole` (a correction's spans) are never cut: sentences one crosses count as one."""
    inside = _interiors(len(text), whole)
    pieces = [piece for start, end in _joined(split_sentences(text), whole)
              for piece in _cut(text, start, end, max_chars, inside)]
    if not pack:
        return pieces
    chunks: list[tuple[int, int]] = []
    for start, end in pieces:
        if chunks and end - chunks[-1][0] <= max_chars:
            chunks[-1] = (chunks[-1][0], end)
        else:
            chunks.append((start, end))
    return chunks


def _joined(sentences: list[tuple[int, int]], whole: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences, with those a range of `whole` runs across merged into one."""
    out: list[tuple[int, int]] = []
    for start, end in sentences:
        if out and any(a < out[-1][1] and b > start for a, b in whole):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _interiors(length: int, whole: Sequence[tuple[int, int]]) -> bytearray:
    """1 at every index a cut there would split a range of `whole`."""
    inside = bytearray(length + 1)
    for start, end in whole:
        inside[start + 1 : end] = b"\x01" * max(0, end - start - 1)
    return inside


def _cut(text: str, start: int, end: int, max_chars: int, inside: bytearray) -> list[tuple[int, int]]:
    """One sentence as pieces of at most max_chars, cut at whitespace where there is some."""
    pieces = []
    while end - start > max_chars:
        cut = _cut_point(text, start, start + max_chars, inside)
        if cut >= end:
            break
        if trimmed := _trim(text, start, cut):
            pieces.append(trimmed)
        start = cut
    if trimmed := _trim(text, start, end):
        pieces.append(trimmed)
    return pieces


def _cut_point(text: str, start: int, limit: int, inside: bytearray) -> int:
    """The last whitespace after start and before limit outside every kept range; else a hard cut at
    limit, moved back so that it splits no character sequence and no kept range (forward past a
    kept range that starts at `start`: such a piece is longer than the limit)."""
    for i in range(limit - 1, start, -1):
        if text[i].isspace() and not inside[i]:
            return i
    cut = limit
    while cut > start + 1 and (inside[cut] or _joins(text, cut)):
        cut -= 1
    if cut == start + 1 and (inside[cut] or _joins(text, cut)):
        cut = limit
        while cut < len(text) and (inside[cut] or _joins(text, cut)):
            cut += 1
    return cut


def _joins(text: str, index: int) -> bool:
    """Whether text[index] belongs to the character before it, so that a cut there splits one glyph
    (an accent, an emoji's modifier or ZWJ sequence, a flag's second letter)."""
    if index <= 0 or index >= len(text):
        return False
    char = text[index]
    if text[index - 1] == "\u200d" or char in _JOINERS or unicodedata.category(char).startswith("M"):
        return True
    if "\U0001f3fb" <= char <= "\U0001f3ff" or "\U000e0020" <= char <= "\U000e007f":  # skin tones, flag tags
        return True
    if not _regional(char):
        return False
    run = 0  # regional indicators pair up into flags from the left
    while index - run > 0 and _regional(text[index - run - 1]):
        run += 1
    return run % 2 == 1


def _regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None
