"""Tests for reversener.prompts: the Jinja templates, their snapshots, hash and sandbox.

The snapshots in tests/data/prompts/<name>.txt are the rendered prompts for fixed inputs; a change
to any template fails test_snapshot. After a deliberate change, rewrite them with
    UPDATE_PROMPT_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_prompts.py
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from reversener import prompts
from reversener.corrections import Hints
from reversener.errors import ConfigError
from reversener.prompts import TEMPLATE_NAMES, render, templates_hash
from reversener.types import Mention

SNAPSHOTS = Path(__file__).parent / "data" / "prompts"

TYPES = {"PER": "names of people.", "LOC": "names of places."}

# The variables each template's caller passes (recognizer.py, entities.py, reverse.py), with fixed values.
INPUTS: dict[str, dict[str, object]] = {
    "recognize_system": {"types": TYPES},
    "recognize_user": {"text": "Anna Berg lives in Rome."},
    "recognize_hints": {"hints": Hints({"LOC": ("Vexmoor", "Oslo"), "PER": ("Zorblat Qu",)}, ("Reuters",))},
    "generate_entities": {
        "types": TYPES,
        "type": "PER",
        "definition": TYPES["PER"],
        "count": 6,
    },
    "sentence_template": {"types": TYPES, "feature": "John Smith visited Paris last week.",
                          "example": [("PER", "Maria Lopez"), ("LOC", "Berlin")]},
    "reverse_sentence": {
        "feature": "John Smith visited Paris last week.",
        "mentions": (Mention("Maria Lopez", "PER"), Mention("Berlin", "LOC")),
    },
}


def test_every_template_has_inputs():
    assert set(INPUTS) == set(TEMPLATE_NAMES)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_renders_with_callers_variables(name):
    text = render(name, **INPUTS[name])
    assert text and text == text.strip()
    assert "{{" not in text and "{%" not in text


def test_recognize_system_lists_types():
    text = render("recognize_system", types=TYPES)
    assert "- PER: names of people.\n- LOC: names of places." in text
    assert '{"entities": [{"text": "...", "type": "..."}]}' in text


def test_recognize_hints_list_names_per_type_and_those_deleted():
    text = render("recognize_hints", **INPUTS["recognize_hints"])
    assert "- labeled LOC: Vexmoor, Oslo\n- labeled PER: Zorblat Qu\n- not an entity: Reuters" in text
    assert "not an entity" not in render("recognize_hints", hints=Hints({"LOC": ("Oslo",)}))


def test_recognize_user_holds_the_text():
    assert render("recognize_user", text="Anna Berg lives in Rome.") == "Text: Anna Berg lives in Rome."


def test_generate_entities_content():
    text = render("generate_entities", **INPUTS["generate_entities"])
    assert "List 6 different real-world names of type PER: names of people." in text
    assert "- LOC: " in text and "none of the other types" in text


def test_reverse_sentence_lists_mentions():
    text = render("reverse_sentence", **INPUTS["reverse_sentence"])
    assert "\nReference sentence: John Smith visited Paris last week.\n" in text
    assert 'Entities: "Maria Lopez" (PER), "Berlin" (LOC)\n' in text


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_missing_variable_raises(name):
    variables = dict(INPUTS[name])
    variables.pop(next(iter(variables)))
    with pytest.raises(UndefinedError):
        render(name, **variables)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_snapshot(name):
    rendered = render(name, **INPUTS[name]) + "\n"
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_PROMPT_SNAPSHOTS"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, "utf-8")
    assert path.exists(), f"missing snapshot {path}; see this module's docstring"
    assert rendered == path.read_text("utf-8"), f"template {name} changed; see this module's docstring"


def test_unknown_template_raises_config_error():
    with pytest.raises(ConfigError, match="unknown prompt template 'nope'"):
        render("nope")
    with pytest.raises(ConfigError, match="recognize_system"):  # the message lists the known ones
        render("../templates/recognize_system")


def test_templates_hash_is_stable():
    first = templates_hash()
    assert len(first) == 16 and int(first, 16) >= 0
    assert templates_hash() == first
    assert templates_hash.__wrapped__() == first  # recomputed, not just cached


@pytest.mark.parametrize("changed", TEMPLATE_NAMES)
def test_templates_hash_changes_when_a_source_a_build_reads_changes(monkeypatch, changed):
    real = prompts._source
    original = templates_hash.__wrapped__()

    def edited(name: str) -> str:
        return real(name) + (" " if name == changed else "")

    monkeypatch.setattr(prompts, "_source", edited)
    # The hints are added to a project's prompts after its library is built: no rebuild for them.
    assert (templates_hash.__wrapped__() != original) == (changed != "recognize_hints")
    monkeypatch.undo()
    assert templates_hash.__wrapped__() == original


@pytest.mark.parametrize("payload", ["{{ 7*7 }}", "{% for x in range(3) %}{{ x }}{% endfor %}", "{{ ''.__class__ }}"])
def test_task_text_is_rendered_literally(payload):
    assert render("recognize_user", text=payload) == f"Text: {payload}"
    reverse = render("reverse_sentence", feature=payload, mentions=[Mention(payload, "PER")])
    assert f"Reference sentence: {payload}" in reverse and f'Entities: "{payload}" (PER)' in reverse
    assert "49" not in render("recognize_user", text="{{ 7*7 }}")


def test_environment_is_sandboxed():
    with pytest.raises(SecurityError):
        prompts._ENV.from_string("{{ x.__class__.__subclasses__() }}").render(x=object())
    with pytest.raises(SecurityError):
        prompts._ENV.from_string("{{ t.__init__.__globals__ }}").render(t=Mention("a", "b"))
