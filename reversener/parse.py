"""Turn an LLM's raw NER answer into a clean list of typed mentions.

Small local models wrap JSON in prose or code fences, use other key names,
answer in Python syntax, or get cut off mid-answer; this module accepts all of
that and keeps only mentions whose type is one of the allowed types.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Collection, Iterator
from typing import Any

from .errors import ParseError
from .types import Mention

__all__ = ["parse_mentions", "json_values", "json_string", "MAX_MENTIONS"]

MAX_MENTIONS = 200
"""At most this many mentions per answer: a looping LLM must not flood later steps."""

_MAX_STARTS = 100  # bracket positions tried per answer, to bound the work on odd text
_MAX_DEPTH = 20  # nesting walked in a parsed answer

_TEXT_KEYS = ("text", "word", "name", "mention", "span", "entity_text", "entity")
_TYPE_KEYS = ("type", "label", "entity_type", "category", "entity_group", "tag", "class", "entity")

_CONTAINER_KEYS = frozenset({"entities", "result", "results", "output", "answer", "data", "items"})

_ALIAS_GROUPS = (
    frozenset({"per", "person", "persons", "people", "pers"}),
    frozenset({"loc", "location", "locations", "place", "places"}),
    frozenset({"org", "organization", "organisation", "organizations", "organisations"}),
    frozenset({"misc", "miscellaneous", "other", "others"}),
)

_NO_ENTITIES = re.compile(
    r"(none|null|nil|n/?a|nothing|empty|"
    r"(there are )?no (named )?entit(y|ies)\b.*)",
    re.IGNORECASE | re.DOTALL,
)
_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_OPEN = re.compile(r"[\[{]")
_FLAT_OBJECT = re.compile(r"\{[^{}]*\}")
_KEY_LIST = re.compile(r"""("[^"\n]+"|'[^'\n]+')\s*:\s*(\[[^\[\]{}]*\])""")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_BIO_PREFIX = re.compile(r"^[BIESL]-", re.IGNORECASE)
_FAIL = object()


def parse_mentions(answer: str, types: Collection[str]) -> list[Mention]:
    """Parse an LLM answer into unique mentions of allowed types, in answer order.

    Returns [] for an empty answer or an explicit "no entities"; raises ParseError
    when the answer holds nothing readable as JSON, so callers can count such answers.
    """
    stripped = (answer or "").strip()
    if not stripped or _is_explicit_empty(stripped):
        return []
    values = list(json_values(stripped))
    if not values:
        raise ParseError(f"LLM answer holds no JSON entity list; it begins: {answer[:200]!r}")
    resolve = _type_resolver(types)
    for value in values:
        mentions = _collect(_walk(value, None, 0), resolve)
        if mentions:
            return mentions
    return []


def _is_explicit_empty(text: str) -> bool:
    """True for answers like "None" or "No entities found." (possibly fenced or quoted)."""
    inner = _FENCE.sub(lambda m: m.group(1), text).strip().strip("\"'`.!").strip()
    return not _OPEN.search(inner) and _NO_ENTITIES.fullmatch(inner) is not None


def json_values(text: str) -> Iterator[Any]:
    """Every JSON-like value in an LLM answer: fenced blocks first, then the whole answer."""
    blocks = [m.group(1) for m in _FENCE.finditer(text)]
    for body in blocks + [text]:
        yield from _scan(body)


def json_string(answer: str, key: str) -> str | None:
    """The string under `key` (else any string value) of the first JSON object in an answer that
    has one, with whitespace runs collapsed; None if there is none."""
    for value in json_values(answer):
        if isinstance(value, dict):
            text = value.get(key) or next((v for v in value.values() if isinstance(v, str)), None)
            if isinstance(text, str) and text.strip():
                return " ".join(text.split())
    return None


def _scan(body: str) -> Iterator[Any]:
    """Yield the values of successive bracketed regions; salvage objects from broken ones."""
    pos = 0
    for _ in range(_MAX_STARTS):
        found = _OPEN.search(body, pos)
        if found is None:
            return
        start = found.start()
        end = _match_end(body, start)
        region = body[start:end] if end is not None else body[start:]
        value = _load(region) if end is not None else _FAIL
        if value is _FAIL:
            value = _salvage(region)
            if not value:
                pos = start + 1
                continue
        yield value
        pos = start + len(region)


def _match_end(text: str, start: int) -> int | None:
    """End (exclusive) of the bracketed region opening at start, or None if cut off or mismatched."""
    closers: list[str] = []
    quote: str | None = None
    i = start
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "[{":
            closers.append("]" if char == "[" else "}")
        elif char in "]}":
            if not closers or closers.pop() != char:
                return None
            if not closers:
                return i + 1
        i += 1
    return None


def _load(text: str) -> Any:
    """Load JSON, JSON with trailing commas, or a Python literal; _FAIL if none works."""
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):
            pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _FAIL


def _salvage(region: str) -> list[Any]:
    """Recover complete flat objects and complete `"TYPE": [...]` pairs from a broken region."""
    found: list[Any] = []
    for match in _FLAT_OBJECT.finditer(region):
        value = _load(match.group(0))
        if isinstance(value, dict):
            found.append(value)
    pairs: dict[str, Any] = {}
    for match in _KEY_LIST.finditer(region):
        key, items = _load(match.group(1)), _load(match.group(2))
        if isinstance(key, str) and isinstance(items, list):
            pairs.setdefault(key, items)
    if pairs:
        found.append(pairs)
    return found


def _walk(node: Any, default_type: str | None, depth: int) -> Iterator[tuple[Any, Any]]:
    """Yield raw (text, type) pairs from any nesting of lists, entity dicts and type maps."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, dict):
        yield from _walk_dict(node, default_type, depth)
    elif isinstance(node, (list, tuple)):
        if len(node) == 2 and all(isinstance(x, str) for x in node) and default_type is None:
            yield node[0], node[1]  # a [text, type] pair
            return
        for item in node:
            if isinstance(item, str):
                if default_type is not None:
                    yield item, default_type
            else:
                yield from _walk(item, default_type, depth + 1)


def _walk_dict(node: dict, default_type: str | None, depth: int) -> Iterator[tuple[Any, Any]]:
    """An entity dict yields one pair; any other dict is a container or a type -> texts map."""
    text_key = next((k for k in _TEXT_KEYS if k in node), None)
    type_key = next((k for k in _TYPE_KEYS if k in node and k != text_key), None)
    nested = any(isinstance(v, (dict, list, tuple)) for v in node.values())
    # A "text" with no type beside nested lists is an echoed input sentence: walk on.
    if text_key is not None and isinstance(node[text_key], str) and (type_key or not nested):
        yield node[text_key], node[type_key] if type_key else default_type
        return
    for key, value in node.items():
        if isinstance(value, str):
            if key not in _TEXT_KEYS:  # an echoed input sentence is no mention
                yield value, key
        else:
            key_type = key if isinstance(key, str) and key.lower() not in _CONTAINER_KEYS else None
            yield from _walk(value, key_type or default_type, depth + 1)


def _collect(
    pairs: Iterator[tuple[Any, Any]], resolve: Callable[[Any], str | None]
) -> list[Mention]:
    """Clean, type-check and de-duplicate raw pairs, stopping at MAX_MENTIONS."""
    seen: set[Mention] = set()
    mentions: list[Mention] = []
    for raw_text, raw_type in pairs:
        if not isinstance(raw_text, str):
            continue
        text, label = _clean_text(raw_text), resolve(raw_type)
        if not text or label is None:
            continue
        mention = Mention(text, label)
        if mention not in seen:
            seen.add(mention)
            mentions.append(mention)
            if len(mentions) >= MAX_MENTIONS:
                break
    return mentions


def _clean_text(text: str) -> str:
    """Strip whitespace and quotes; single quotes only when paired, to keep "'s-Hertogenbosch"."""
    text = text.strip().strip("\"“”„`").strip()
    while len(text) >= 2 and text[0] in "'‘’" and text[-1] in "'‘’":
        text = text[1:-1].strip().strip("\"“”„`").strip()
    return text


def _type_resolver(types: Collection[str]) -> Callable[[Any], str | None]:
    """Build a function mapping an LLM's type name to its canonical allowed spelling, or None."""
    exact: dict[str, str] = {}
    for allowed in types:
        exact.setdefault(allowed.strip().lower(), allowed)

    def lookup(key: str) -> str | None:
        if key in exact:
            return exact[key]
        for group in _ALIAS_GROUPS:
            if key in group:
                hits = {exact[k] for k in group if k in exact}
                return hits.pop() if len(hits) == 1 else None
        return None

    def resolve(raw: Any) -> str | None:
        if not isinstance(raw, str):
            return None
        key = raw.strip().strip("\"'").strip().lower()
        for candidate in (key, _BIO_PREFIX.sub("", key)):
            singular = candidate[:-1] if candidate.endswith("s") else candidate
            found = lookup(candidate) or lookup(singular)
            if found:
                return found
        return None

    return resolve
