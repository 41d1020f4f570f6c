"""The README stays short and the docs stay true: the settings page is what the settings classes
generate, and every relative link points at a file (and a heading) that exists."""

import re
from pathlib import Path

import pytest

from backend.settings import BackendSettings
from backend.settings_doc import PAGE, env_var, render

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (lines in code blocks that start with # are not headings)."""
    anchors, fenced = set(), False
    for line in page.read_text("utf-8").splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("#") and not fenced:
            anchors.add(_slug(line.lstrip("#")))
    return anchors


def test_the_settings_page_is_what_the_settings_classes_generate():
    page = PAGE.read_text("utf-8")
    assert render(page) == page, "docs/configuration.md is stale: run python -m backend.settings_doc"


def test_every_setting_has_a_row_on_the_settings_page():
    page = PAGE.read_text("utf-8")
    missing = [env_var(name) for name in BackendSettings.model_fields if f"| `{env_var(name)}` |" not in page]
    assert not missing, f"no row in docs/configuration.md for {missing}"


def test_render_refuses_a_page_without_a_block_for_each_group():
    with pytest.raises(ValueError, match="no block for"):
        render("<!-- settings: method -->\n<!-- end settings -->\n")


def test_the_readme_fits_on_a_few_screens():
    lines = len(README.read_text("utf-8").splitlines())
    assert lines <= 210, f"README.md has {lines} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_relative_links_point_at_files_and_headings_that_exist(page):
    broken = []
    for target in LINK.findall(page.read_text("utf-8")):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not ours to check
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert not broken, f"{page.name} links to what does not exist: {broken}"
