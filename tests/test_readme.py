"""The README documents every setting, with its env var."""

from pathlib import Path

from backend.settings import BackendSettings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def test_every_setting_is_documented():
    missing = [name.upper() for name in BackendSettings.model_fields if f"`{name.upper()}`" not in README]
    assert not missing, f"document these in the README's configuration table: {missing}"
