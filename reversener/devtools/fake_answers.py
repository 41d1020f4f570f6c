"""A rule-based stand-in for the LLM's answers to each of our prompts, for tests through real HTTP.

It recognizes names from a small gazetteer, invents entities from fixed lists, and writes reverse
sentences by slotting the requested entities into a template, so every step sees a plausible answer.
"""

from __future__ import annotations

import json
import re

GAZETTEER = {
    "PER": ["Angela Merkel", "Bob", "Anna", "Maria"],
    "ORG": ["Siemens", "United Nations", "Reuters"],
    "LOC": ["Berlin", "Paris", "Oslo", "Rome", "Köln"],
    "MISC": ["German", "Olympics"],
}
INVENTED = {
    "PER": ["Lena Fischer", "Tom Ward", "Ivo Petrov"],
    "ORG": ["Acme Corp", "Blue River Bank", "Nordic Rail"],
    "LOC": ["Lisbon", "Kyoto", "Lake Tana"],
    "MISC": ["Dutch", "Nobel Prize", "Buddhist"],
}


def answer(body: dict) -> str:
    """The answer to one chat request, chosen by which of our prompts it is."""
    prompt = body["messages"][-1]["content"]
    if listed := re.search(r"names of type (\S+?):", prompt):
        return json.dumps({"entities": INVENTED.get(listed.group(1), ["Thing One", "Thing Two"])})
    if prompt.startswith("Replace every name in the sentence"):
        sentence = prompt.rsplit("\nSentence: ", 1)[1].split("\nAnswer with JSON", 1)[0]
        for label, names in GAZETTEER.items():
            for name in names:
                sentence = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", f"[{label}]", sentence)
        return json.dumps({"template": sentence})
    if prompt.startswith("Rewrite a reference sentence"):
        names = re.findall(r'"([^"]+)" \(', prompt.split("\nNow\n", 1)[1])
        return json.dumps({"sentence": f"Yesterday {' and '.join(names)} were in the news again."})
    text = prompt.removeprefix("Text: ")
    learned = _learned(body["messages"][:-1])
    found = [
        {"text": name, "type": label}
        for label, names in GAZETTEER.items()
        for name in names + learned.get(label, [])
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text)
    ]
    return json.dumps({"entities": found})


def _learned(messages: list[dict]) -> dict[str, list[str]]:
    """Names shown in demonstrations count as known: a demonstration teaches the fake, as it should."""
    learned: dict[str, list[str]] = {}
    for message in messages:
        if message["role"] == "assistant":
            for entity in json.loads(message["content"]).get("entities", []):
                learned.setdefault(entity["type"], []).append(entity["text"])
    return learned
