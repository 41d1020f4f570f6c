"""Writes the settings tables of docs/configuration.md from the settings classes, so the page
cannot drift from them: each marker block holds one class's own fields, the prose around it stays.

    .venv/bin/python -m backend.settings_doc           # rewrites the tables in place
    .venv/bin/python -m backend.settings_doc --check   # exits 1 when the page is stale
"""

from __future__ import annotations

import re
import sys
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from reversener.config import MethodConfig
from reversener.settings import Settings

from .settings import BackendSettings

__all__ = ["GROUPS", "PAGE", "env_var", "own_fields", "render", "table"]

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
# Marker name -> the class whose own fields (not its bases') that block lists.
GROUPS: dict[str, type[BaseModel]] = {"method": MethodConfig, "engine": Settings, "backend": BackendSettings}
_BLOCK = re.compile(r"(<!-- settings: (?P<group>[\w-]+) -->\n).*?(<!-- end settings -->)", re.S)


def env_var(name: str) -> str:
    """The env var of a field: its name in capitals (pydantic-settings, no prefix)."""
    return name.upper()


def own_fields(cls: type[BaseModel]) -> dict[str, FieldInfo]:
    """The fields a class adds to its bases, in the order it declares them."""
    inherited = {name for base in cls.__bases__ for name in getattr(base, "model_fields", {})}
    return {name: field for name, field in cls.model_fields.items() if name not in inherited}


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, Path):  # the home directory differs per machine
        home = str(Path.home())
        value = "~" + str(value)[len(home):] if str(value).startswith(home) else value
    return f"`{value}`"


def _meaning(field: FieldInfo) -> str:
    if not field.description:
        raise ValueError("every setting needs a description= for docs/configuration.md")
    text = field.description
    choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else ()
    if choices:
        text += " One of " + ", ".join(f"`{choice}`" for choice in choices) + "."
    return text.replace("|", "\\|").replace("<", "&lt;")  # a table cell; <project> is no HTML tag


def table(cls: type[BaseModel]) -> str:
    """A Markdown table of the class's own settings: env var, default, meaning."""
    rows = ["| env var | default | meaning |", "|---|---|---|"]
    for name, field in own_fields(cls).items():
        try:
            rows.append(f"| `{env_var(name)}` | {_default(field)} | {_meaning(field)} |")
        except ValueError as err:
            raise ValueError(f"{cls.__name__}.{name}: {err}") from err
    return "\n".join(rows) + "\n"


def render(page: str) -> str:
    """The page with every marker block's table written afresh; raises if a group has no block."""
    seen: list[str] = []

    def fill(match: re.Match) -> str:
        group = match["group"]
        if group not in GROUPS or group in seen:
            raise ValueError(f"settings block {group!r} is unknown or repeated; one each of: {', '.join(GROUPS)}")
        seen.append(group)
        return match[1] + table(GROUPS[group]) + match[3]

    text = _BLOCK.sub(fill, page)
    missing = [group for group in GROUPS if group not in seen]
    if missing:
        raise ValueError(f"{PAGE.name} has no block for {missing}: add '<!-- settings: NAME -->' and "
                         "'<!-- end settings -->' lines where each table goes")
    return text


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print("usage: python -m backend.settings_doc [--check]", file=sys.stderr)
        return 2
    page = PAGE.read_text("utf-8")
    fresh = render(page)
    if argv:
        if fresh != page:
            print(f"{PAGE} is stale: run python -m backend.settings_doc", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(fresh, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
