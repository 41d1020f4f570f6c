"""The learning curve's ablation rows: settings named on the command line, and where their points go."""

from __future__ import annotations

import json

import pytest
import typer

import benchmarks.learning_curve as curve


def test_an_ablation_names_backend_settings_and_gets_its_own_file(monkeypatch, tmp_path):
    monkeypatch.setattr(curve, "RESULTS", tmp_path)
    ablation = curve.ablation_of(["NAME_MEMORY=false", "learn_thresholds = false"])
    assert ablation == {"name_memory": "false", "learn_thresholds": "false"}
    assert curve.result_path("wnut17").name == "learning-wnut17.json"
    path = curve.result_path("wnut17", ablation)
    assert path.name == "learning-wnut17--learn_thresholds=false--name_memory=false.json"
    path.write_text(json.dumps({"points": {}}))
    assert curve.ablations("wnut17") == {"learn_thresholds=false, name_memory=false": {"points": {}}}
    assert curve.ablations("wikigold") == {}


@pytest.mark.parametrize("bad", ["name_memory", "no_such_setting=1", "=true"])
def test_a_setting_that_is_not_one_is_a_usage_error(bad):
    with pytest.raises(typer.BadParameter, match="KEY=VALUE"):
        curve.ablation_of([bad])

