"""Step 4: reverse sentences, the LLM writes a sentence shaped like a feature sentence around given
entities, so its labels are known by construction; candidates that break the labels are rejected."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .align import align, find_all
from .llm.client import LLMClient, LLMRequest, Progress
from .parse import json_string
from .prompts import render
from .types import Mention, Sentence

__all__ = ["Plan", "plan_examples", "write_reverse_sentences", "check_candidate", "unlabeled_names"]

log = logging.getLogger(__name__)

# Capitalized words that are not names in English text; anything else capitalized inside a
# candidate but outside its labeled spans is an unlabeled name, which would teach the model to skip names.
_NOT_NAMES = frozenset(
    "I A An The This That These Those It He She We They You My Our His Her Their Its Mr Mrs Ms Dr "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June "
    "July August September October November December OK TV".split()
)
_WORD = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)
# A period after a title ends no sentence: the capitalized word after "Mr." is a name, not a sentence start.
_AFTER_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Gen|Col|Lt|Sgt|Rev)\.$")
_MAX_LENGTH_RATIO = 3.0


@dataclass(frozen=True)
class Plan:
    """One reverse sentence to write: the feature sentence to imitate and the entities to use."""

    feature: str
    mentions: tuple[Mention, ...]


def plan_examples(
    features: Sequence[str], entities: dict[str, list[str]], per_feature: int, max_entities: int, seed: int = 0
) -> list[Plan]:
    """Spread entities over feature sentences so every type and name is used about equally."""
    rng = np.random.default_rng(seed)
    pools = {t: list(rng.permutation(names)) for t, names in entities.items() if names}
    if not pools:
        return []
    used: Counter[str] = Counter()
    types, cursor, plans = list(pools), 0, []
    for feature in features:
        for _ in range(per_feature):
            size = int(rng.integers(1, min(max_entities, len(types)) + 1))
            chosen = [types[(cursor + i) % len(types)] for i in range(size)]
            cursor += size
            mentions = []
            for name in chosen:
                pool = pools[name]
                mentions.append(Mention(str(pool[used[name] % len(pool)]), name))
                used[name] += 1
            plans.append(Plan(feature, tuple(mentions)))
    return plans


def write_reverse_sentences(
    llm: LLMClient, plans: Sequence[Plan], *, temperature: float = 0.7, rounds: int = 2,
    progress: Progress | None = None,
) -> tuple[list[tuple[Plan, Sentence]], Counter]:
    """Labeled sentences for the plans that pass the checks; rejected ones get another round.
    `progress` advances once per plan, when it is settled (kept, or out of rounds)."""
    kept: list[tuple[Plan, Sentence]] = []
    reasons: Counter = Counter()
    pending = list(plans)
    for attempt in range(rounds):
        if not pending:
            break
        last = attempt == rounds - 1
        requests = [_request(plan, temperature, attempt) for plan in pending]
        retry = []
        for plan, reply in zip(pending, llm.complete(requests), strict=True):
            # An LLM error is final here: the gateway has already retried it.
            result: Sentence | str
            if reply.ok:
                result = check_candidate(json_string(reply.texts[-1], "sentence") or "", plan)
            else:
                result = "llm error"
            if isinstance(result, Sentence):
                kept.append((plan, result))
            else:
                reasons[result] += 1
                if not last and result != "llm error":
                    retry.append(plan)
                    continue
            if progress is not None:
                progress(1)
        pending = retry
    return kept, reasons


def _request(plan: Plan, temperature: float, attempt: int) -> LLMRequest:
    prompt = render("reverse_sentence", feature=plan.feature, mentions=plan.mentions)
    # Round r reads sample r, so a retry is a fresh sample yet a rerun still hits the cache.
    return LLMRequest((("user", prompt),), samples=attempt + 1, temperature=temperature, max_tokens=160)


def check_candidate(candidate: str, plan: Plan) -> Sentence | str:
    """The labeled sentence, or why the candidate is unusable."""
    if not candidate:
        return "no sentence in answer"
    if candidate == plan.feature:
        return "copied the feature sentence"
    if len(candidate) > _MAX_LENGTH_RATIO * max(len(plan.feature), 40):
        return "too long"
    if any(not find_all(candidate, m.text) for m in plan.mentions):
        return "entity missing"
    spans = align(candidate, plan.mentions)
    if {(s.label, candidate[s.start : s.end]) for s in spans} != {(m.type, m.text) for m in plan.mentions}:
        return "entities overlap"
    if unlabeled_names(candidate, spans):
        return "unlabeled name"
    return Sentence(candidate, tuple(spans))


def unlabeled_names(text: str, spans) -> list[str]:
    """Capitalized words outside the spans, except the first word and words after sentence ends."""
    names = []
    for match in _WORD.finditer(text):
        word, start = match.group().rstrip(".'’"), match.start()
        if not word[:1].isupper() or word in _NOT_NAMES:
            continue
        if any(s.start <= start < s.end for s in spans):
            continue
        before = text[:start].rstrip()
        if not before or (before[-1] in '.!?:"“(' and not _AFTER_TITLE.search(before)):
            continue
        names.append(word)
    return names
