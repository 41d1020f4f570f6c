"""Readers for evaluation data (CoNLL) and for task inputs (Label Studio JSON, JSONL, plain text).

Every malformed input raises ReaderError with a message naming the file, the line (or task
index) and what to fix, so a user never gets a bare KeyError or JSONDecodeError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ReaderError
from .types import Sentence, Span

__all__ = ["read_conll", "read_conll_documents", "read_tasks"]

_DOCSTART = "-DOCSTART-"
_COLUMN_SEP = re.compile(r"[ \t]+")
_TAG = re.compile(r"O|[BI]-\S+")


# --------------------------------------------------------------------------------------------
# CoNLL


def read_conll(path: str | Path) -> list[Sentence]:
    """Read a CoNLL file (token first, tag last; IOB1 or IOB2) into sentences with char spans.

    Columns may be separated by spaces or tabs. ``-DOCSTART-`` lines are skipped and empty
    sentences are never returned. The sentence text is the tokens joined by single spaces.
    """
    return [sentence for document in read_conll_documents(path) for sentence in document]


def read_conll_documents(path: str | Path) -> list[list[Sentence]]:
    """The sentences of a CoNLL file (as `read_conll` reads them) grouped into its documents, which
    ``-DOCSTART-`` lines separate; a file without them is one document, and none is empty."""
    documents: list[list[Sentence]] = [[]]
    tokens: list[str] = []
    tags: list[str] = []
    for lineno, line in _numbered_lines(path):
        stripped = line.strip(" \t\r\n")
        columns = _COLUMN_SEP.split(stripped) if stripped else []
        if not columns or columns[0] == _DOCSTART:
            if tokens:
                documents[-1].append(_sentence(tokens, tags))
            tokens, tags = [], []
            if columns and documents[-1]:
                documents.append([])
            continue
        token, tag = _parse_columns(columns, path, lineno, stripped)
        tokens.append(token)
        tags.append(tag)
    if tokens:
        documents[-1].append(_sentence(tokens, tags))
    return [document for document in documents if document]


def _parse_columns(columns: list[str], path: str | Path, lineno: int, line: str) -> tuple[str, str]:
    """Return (token, tag) of one token line, or raise ReaderError saying what is wrong."""
    if len(columns) < 2:
        raise ReaderError(
            f"{path}:{lineno}: expected a token and a tag separated by a space or tab, "
            f"got {line!r}; add the tag (e.g. 'O') as the last column"
        )
    tag = columns[-1]
    if not _TAG.fullmatch(tag):
        raise ReaderError(
            f"{path}:{lineno}: tag {tag!r} is not 'O', 'B-TYPE' or 'I-TYPE'; "
            "only IOB1/IOB2 tags are supported"
        )
    return columns[0], tag


def _sentence(tokens: list[str], tags: list[str]) -> Sentence:
    """Join tokens with single spaces and turn the IOB tags into character spans."""
    starts: list[int] = []
    offset = 0
    for token in tokens:
        starts.append(offset)
        offset += len(token) + 1
    text = " ".join(tokens)
    spans = tuple(
        Span(starts[first], starts[last] + len(tokens[last]), label)
        for first, last, label in _entities(tags)
    )
    return Sentence(text, spans)


def _entities(tags: list[str]) -> Iterator[tuple[int, int, str]]:
    """Yield (first token, last token, type) per entity, with IOB1 semantics.

    An entity starts at ``B-X``, or at ``I-X`` that does not continue an entity of type X
    (after ``O``, another type, or at the sentence start). IOB2 is a special case of this.
    """
    first, label = 0, None  # the open entity: its first token and type (None: no entity)
    for i, tag in enumerate([*tags, "O"]):  # the final "O" closes a trailing entity
        prefix, kind = tag[0], tag[2:]
        continues = prefix == "I" and kind == label
        if label is not None and not continues:
            yield first, i - 1, label
            label = None
        if prefix != "O" and not continues:
            first, label = i, kind


def _numbered_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line) of a UTF-8 file (a leading BOM is ignored)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        message = f"{path}: not valid UTF-8 ({exc.reason}); save the file as UTF-8"
        raise ReaderError(message) from exc


# --------------------------------------------------------------------------------------------
# Task inputs


def read_tasks(path: str | Path, text_key: str = "text") -> list[dict]:
    """Read task inputs as Label Studio task dicts ``{"data": {text_key: ...}, ...}``.

    The format follows the extension: ``.json`` (a list of tasks, one task object, or a list
    of strings), ``.jsonl`` (one task or ``{text_key: ...}`` object per line), anything else
    plain text with one text per line. Keys other than ``data`` (``id``, ``meta``...) are kept.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return _read_json_tasks(path, text_key)
    if suffix == ".jsonl":
        return _read_jsonl_tasks(path, text_key)
    return [
        {"data": {text_key: line.rstrip("\r\n")}}
        for _, line in _numbered_lines(path)
        if line.strip()
    ]


def _read_json_tasks(path: str | Path, text_key: str) -> list[dict]:
    """Parse a Label Studio JSON file: a list of tasks or strings, or a single task object."""
    text = "".join(line for _, line in _numbered_lines(path))
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReaderError(
            f"{path}:{exc.lineno}: invalid JSON ({exc.msg}, column {exc.colno}); fix the syntax, "
            "or use .jsonl for one task per line or .txt for one text per line"
        ) from exc
    items = loaded if isinstance(loaded, list) else [loaded]
    return [_as_task(item, text_key, f"{path}: task index {i}") for i, item in enumerate(items)]


def _read_jsonl_tasks(path: str | Path, text_key: str) -> list[dict]:
    """Parse a JSON Lines file: one task (or object with ``text_key``) per non-blank line."""
    tasks: list[dict] = []
    for lineno, line in _numbered_lines(path):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReaderError(
                f"{path}:{lineno}: invalid JSON ({exc.msg}, column {exc.colno}); "
                "each line must be one complete JSON object"
            ) from exc
        tasks.append(_as_task(item, text_key, f"{path}:{lineno}: task index {len(tasks)}"))
    return tasks


def _as_task(item: Any, text_key: str, where: str) -> dict:
    """Normalize one item to a task dict and check that ``data[text_key]`` is a string.

    A string becomes ``{"data": {text_key: s}}``; an object without ``data`` becomes the
    ``data`` of a new task (as Label Studio imports it), so none of its keys are lost.
    """
    if isinstance(item, str):
        return {"data": {text_key: item}}
    if not isinstance(item, dict):
        raise ReaderError(
            f"{where}: expected a task object or a string, got {type(item).__name__}"
        )
    task = item if "data" in item else {"data": item}
    data = task["data"]
    if not isinstance(data, dict) or not isinstance(data.get(text_key), str):
        raise ReaderError(
            f"{where}: data.{text_key} is missing or not a string; "
            f'each task needs {{"data": {{"{text_key}": "..."}}}}'
        )
    return task
