"""Locate an LLM's mentions in the text as exact, non-overlapping character spans.

The LLM names entities by their surface text only; this module finds every
occurrence on word boundaries, tolerates case and whitespace slips, drops text the
LLM invented, and resolves overlaps longest-first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

from .types import Mention, Span

__all__ = ["align", "find_all"]

# Scripts written without spaces between words: a boundary next to them is always allowed,
# otherwise no entity could be found inside Chinese, Japanese or Thai running text.
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def align(text: str, mentions: Sequence[Mention]) -> list[Span]:
    """Turn mentions into spans over every occurrence in text, longest first, without overlaps.

    A span claimed by two mentions goes to the one the LLM named first; mentions
    not found in the text are dropped. Returns spans sorted by start.
    """
    if not text:
        return []
    candidates: list[tuple[int, int, int]] = []  # (-length, start, mention index)
    for index, mention in enumerate(mentions):
        for start, end in _locate(text, mention.text.strip()):
            candidates.append((start - end, start, index))
    candidates.sort()
    taken = bytearray(len(text))
    spans: list[Span] = []
    for neg_length, start, index in candidates:
        end = start - neg_length
        if any(taken[start:end]):
            continue
        taken[start:end] = b"\x01" * (end - start)
        spans.append(Span(start, end, mentions[index].type, mentions[index].score))
    return sorted(spans)


def find_all(text: str, needle: str) -> list[tuple[int, int]]:
    """Every case-sensitive occurrence of needle in text that starts and ends on word boundaries."""
    found: list[tuple[int, int]] = []
    if not needle:
        return found
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        if _on_boundaries(text, start, end):
            found.append((start, end))
        start = text.find(needle, start + 1)
    return found


def _locate(text: str, needle: str) -> list[tuple[int, int]]:
    """Occurrences of needle: exact first, else ignoring case, else also ignoring whitespace runs."""
    if not needle:
        return []
    found = find_all(text, needle)
    if found:
        return found
    found = list(_regex_all(text, re.compile(re.escape(needle), re.IGNORECASE)))
    if found:
        return found
    parts = needle.split()
    loose = r"\s+".join(re.escape(part) for part in parts)
    return list(_regex_all(text, re.compile(loose, re.IGNORECASE)))


def _regex_all(text: str, pattern: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """Every match of pattern on word boundaries, overlapping matches included."""
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        start, end = match.span()
        if end > start and _on_boundaries(text, start, end):
            yield start, end
        pos = start + 1


def _on_boundaries(text: str, start: int, end: int) -> bool:
    """True when [start, end) neither starts nor ends inside a word."""
    return _is_boundary(text, start) and _is_boundary(text, end)


def _is_boundary(text: str, index: int) -> bool:
    """True unless the characters on both sides of index belong to one spaced-script word."""
    if index <= 0 or index >= len(text):
        return True
    left, right = text[index - 1], text[index]
    if not (_is_word_char(left) and _is_word_char(right)):
        return True
    return _is_unspaced(left) or _is_unspaced(right)


def _is_word_char(char: str) -> bool:
    """Letters and digits, plus combining marks (so "Zoe" is not found inside a decomposed "Zoë")."""
    return char.isalnum() or unicodedata.category(char).startswith("M")


def _is_unspaced(char: str) -> bool:
    """True for characters of scripts that do not separate words with spaces."""
    point = ord(char)
    return any(low <= point <= high for low, high in _UNSPACED_RANGES)
