"""Entity types and definitions from label configs."""

from __future__ import annotations

import pytest

from backend.label_config import parse_label_config
from reversener.definitions import BUILTIN_DEFINITIONS
from reversener.errors import ConfigError

from .conftest import LABEL_CONFIG


def test_the_shipped_config_gives_conll_types_with_hints():
    [target] = parse_label_config(LABEL_CONFIG)
    assert (target.from_name, target.to_name, target.value_key) == ("label", "text", "text")
    assert list(target.types) == ["PER", "ORG", "LOC", "MISC"]
    assert target.types["PER"].startswith("Names of people")


def test_several_pairs_hints_and_builtins():
    config = """<View>
      <Text name="title" value="$headline"/><Labels name="t_labels" toName="title">
        <Label value="PER"/><Label value="Gene &amp; Protein" hint="genes and proteins"/></Labels>
      <HyperText name="body" value="$html"/><Labels name="b_labels" toName="body"><Label value="ORG"/></Labels>
      <Choices name="sentiment" toName="title"><Choice value="pos"/></Choices>
    </View>"""
    first, second = parse_label_config(config)
    assert first.value_key == "headline" and first.types == {"PER": BUILTIN_DEFINITIONS["PER"],
                                                             "Gene & Protein": "genes and proteins"}
    assert (second.from_name, second.value_key, list(second.types)) == ("b_labels", "html", ["ORG"])
    assert first.key != second.key


@pytest.mark.parametrize("config, message", [
    ("", "empty"),
    ("<View><Text name='t' value='$t'/></View>", "no <Labels>"),
    ("<View><Labels name='l' toName='img'><Label value='A'/></Labels><Image name='img' value='$i'/></View>",
     "no <Labels>"),
    ("<View><Labels", "not valid"),
])
def test_configs_without_ner_are_refused_with_a_reason(config, message):
    with pytest.raises(ConfigError, match=message):
        parse_label_config(config)
