"""Entity types and their definitions: built-ins for CoNLL, OntoNotes and WNUT types, overridable."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["BUILTIN_DEFINITIONS", "resolve_types"]

BUILTIN_DEFINITIONS: dict[str, str] = {
    # CoNLL-2003
    "PER": "names of people, real or fictional, including first names, surnames and nicknames.",
    "ORG": "names of organizations: companies, institutions, sports teams, bands, political parties, "
    "government bodies, newspapers.",
    "LOC": "names of places: countries, cities, regions, continents, mountains, rivers, streets, buildings.",
    "MISC": "other proper names: nationalities and other adjectives made from names (German, Christian), "
    "languages, events, wars, awards, titles of works, products, named ideologies.",
    # OntoNotes 5
    "PERSON": "names of people, real or fictional.",
    "NORP": "nationalities, religious or political groups (American, Buddhist, Republican).",
    "FAC": "names of buildings, airports, highways, bridges and other built structures.",
    "GPE": "countries, cities and states: places with a government.",
    "PRODUCT": "names of products: vehicles, foods, devices, software (not services).",
    "EVENT": "names of events: hurricanes, battles, wars, sports events, festivals.",
    "WORK_OF_ART": "titles of books, songs, films, paintings and other works.",
    "LAW": "names of laws, treaties and legal documents.",
    "LANGUAGE": "names of languages.",
    "DATE": "absolute or relative dates or periods.",
    "TIME": "times shorter than a day.",
    "PERCENT": "percentages, including the % sign or the word percent.",
    "MONEY": "monetary values, including the unit.",
    "QUANTITY": "measurements of weight, distance or other quantities.",
    "ORDINAL": "ordinal numbers: first, second, 3rd.",
    "CARDINAL": "numerals that are not of another type.",
    # WNUT-17
    "person": "names of people, real or fictional, including usernames that name a person.",
    "location": "names of places: countries, cities, regions, buildings, landmarks.",
    "corporation": "names of companies and businesses.",
    "product": "names of products: devices, software, apps, brands of goods.",
    "creative-work": "titles of songs, films, books, TV shows, games and other works.",
    "group": "names of groups: bands, sports teams, organizations that are not companies.",
}

_ALIASES = {"PERS": "PER", "LOCATION": "LOC", "ORGANIZATION": "ORG", "ORGANISATION": "ORG"}


def _fallback(type_name: str) -> str:
    words = re.sub(r"[_\-]+", " ", type_name).strip().lower()
    return f"names of {words} entities."


def resolve_types(types: Iterable[str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each type to its definition: an override, else a built-in, else one made from its name."""
    overrides = {k: v for k, v in (overrides or {}).items() if v and v.strip()}
    resolved: dict[str, str] = {}
    for name in types:
        if name in resolved:
            continue
        builtin = BUILTIN_DEFINITIONS.get(name) or BUILTIN_DEFINITIONS.get(_ALIASES.get(name.upper(), ""))
        resolved[name] = (overrides.get(name) or builtin or _fallback(name)).strip()
    return resolved
