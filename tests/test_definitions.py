"""Tests for reversener.definitions: entity types to definitions."""

from __future__ import annotations

from reversener.definitions import BUILTIN_DEFINITIONS, resolve_types


def test_builtins_for_conll_ontonotes_and_wnut():
    resolved = resolve_types(["PER", "GPE", "creative-work"])
    assert resolved == {
        "PER": BUILTIN_DEFINITIONS["PER"],
        "GPE": BUILTIN_DEFINITIONS["GPE"],
        "creative-work": BUILTIN_DEFINITIONS["creative-work"],
    }
    assert "people" in resolved["PER"]


def test_alias_uses_the_builtin_of_its_canonical_type():
    assert resolve_types(["Location"]) == {"Location": BUILTIN_DEFINITIONS["LOC"]}


def test_override_wins_over_builtin():
    resolved = resolve_types(["PER", "LOC"], {"PER": "  football players only.  "})
    assert resolved["PER"] == "football players only."
    assert resolved["LOC"] == BUILTIN_DEFINITIONS["LOC"]


def test_blank_override_is_ignored():
    resolved = resolve_types(["PER", "LOC"], {"PER": "   ", "LOC": ""})
    assert resolved == {"PER": BUILTIN_DEFINITIONS["PER"], "LOC": BUILTIN_DEFINITIONS["LOC"]}


def test_override_for_a_type_not_asked_for_is_not_added():
    assert resolve_types(["ORG"], {"PER": "people."}) == {"ORG": BUILTIN_DEFINITIONS["ORG"]}


def test_unknown_type_gets_a_fallback_from_its_name():
    resolved = resolve_types(["DRUG_NAME", "sports-team"])
    assert resolved == {
        "DRUG_NAME": "names of drug name entities.",
        "sports-team": "names of sports team entities.",
    }


def test_unknown_type_with_override_uses_the_override():
    assert resolve_types(["DRUG"], {"DRUG": "medicines."}) == {"DRUG": "medicines."}


def test_duplicate_names_kept_once_in_order():
    resolved = resolve_types(["ORG", "PER", "ORG", "LOC", "PER"])
    assert list(resolved) == ["ORG", "PER", "LOC"]


def test_no_types():
    assert resolve_types([]) == {}
