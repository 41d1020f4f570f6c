"""Entity types and their definitions from a Label Studio label config, via label-studio-sdk."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from label_studio_sdk.label_interface import LabelInterface

from reversener.definitions import resolve_types
from reversener.errors import ConfigError
from reversener.labelstudio import spans_from_results
from reversener.types import Span

__all__ = ["NerTarget", "parse_label_config"]


@dataclass(frozen=True)
class NerTarget:
    """One <Labels> control bound to one <Text> object: what to predict and where."""

    from_name: str
    to_name: str
    value_key: str  # the task data field the <Text> reads, e.g. "text" for value="$text"
    types: dict[str, str]  # label -> definition
    by_url: bool = False  # valueType="url": the field holds where the text is, not the text

    def regions(self, result: object) -> list[dict]:
        """The regions of a `result` list that belong to this control."""
        regions = result if isinstance(result, list) else []
        return [r for r in regions if isinstance(r, dict) and r.get("from_name") == self.from_name]

    def spans(self, text: str, result: object) -> list[Span]:
        """This control's regions of `result` as spans of `text`, with the scores predicted regions carry
        (spans_from_results reads labels and offsets only: human labels have none)."""
        own = self.regions(result)
        scores = {(r["value"]["start"], r["value"]["end"]): r.get("score")
                  for r in own if isinstance(r.get("value"), dict)}
        return [Span(s.start, s.end, s.label, scores.get((s.start, s.end)))
                for s in spans_from_results(text, own, self.types)]

    @property
    def key(self) -> str:
        blob = repr((self.from_name, self.to_name, self.value_key, sorted(self.types.items())))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def parse_label_config(config: str) -> list[NerTarget]:
    """Every Labels->Text pair; a label's `hint` is its definition, else the engine's built-in one."""
    if not isinstance(config, str) or not config.strip():
        raise ConfigError("the label config is empty: send the project's <View> XML")
    try:
        interface = LabelInterface(config)
    except Exception as err:  # the sdk raises assorted parser errors for bad XML
        raise ConfigError(f"the label config is not valid XML for Label Studio: {err}") from err
    targets = []
    for control in interface.controls:
        if control.tag != "Labels":
            continue
        for to_name in control.to_name:
            obj = interface.get_object(to_name) if to_name in _names(interface) else None
            if obj is None or obj.tag not in ("Text", "HyperText"):
                continue
            hints = {label: tag.attr.get("hint", "") for label, tag in control.labels_attrs.items()}
            value_key = str(obj.value or "").lstrip("$") or "text"
            by_url = str(obj.attr.get("valueType", "")).lower() == "url"
            targets.append(NerTarget(control.name, to_name, value_key, resolve_types(list(hints), hints), by_url))
    if not targets:
        raise ConfigError("the label config has no <Labels> bound to a <Text>: this backend does NER on text")
    return targets


def _names(interface: LabelInterface) -> set[str]:
    return {obj.name for obj in interface.objects}
