"""Steps 2 to 5 in order: from unlabeled task texts to an example library."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .config import MethodConfig
from .embeddings import Embedder
from .entities import generate_entities
from .features import feature_candidates
from .library import ExampleLibrary
from .llm.client import LLMClient, LLMReply, ObservedLLM, Progress
from .prompts import templates_hash
from .recognizer import Recognizer
from .reverse import plan_examples, write_reverse_sentences
from .reverse_template import Verify, squash, template_examples
from .types import Example

__all__ = ["build_library", "BuildReport"]

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did and cost: counts per step and why candidates were rejected."""

    feature_sentences: list[str] = field(default_factory=list)
    entities: dict[str, list[str]] = field(default_factory=dict)
    planned: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    llm_failures: int = 0  # requests that ended in an LLMError: the library is partial
    llm_error: str | None = None

    def count_failures(self, replies: list[LLMReply]) -> None:
        """Counts the replies that are errors, keeping the first error's message."""
        errors = [reply.error for reply in replies if reply.error is not None]
        self.llm_failures += len(errors)
        if errors and self.llm_error is None:
            self.llm_error = str(errors[0])


def build_library(
    texts: Sequence[str],
    types: dict[str, str],
    llm: LLMClient,
    embedder: Embedder,
    config: MethodConfig | None = None,
    *,
    on_step: Callable[[str, int], Progress] | None = None,
) -> tuple[ExampleLibrary, BuildReport]:
    """Build a synthetic example library; `on_step(name, total)` may return a progress callback."""
    c = config or MethodConfig()
    report = BuildReport()
    llm = ObservedLLM(llm, report.count_failures)  # the steps' failed calls reach the report
    candidates = feature_candidates(texts, embedder, c.feature_sentences, seed=c.seed, strategy=c.feature_strategy)
    report.feature_sentences = [ranked[0] for ranked in candidates]
    report.entities = generate_entities(llm, types, c.entities_per_type)
    if c.reverse_strategy == "template":
        progress = on_step("sentence templates", len(report.feature_sentences)) if on_step else None
        verify = _verifier(llm, embedder, types, c) if c.verify_templates else None
        sentences, report.rejected = template_examples(
            llm, candidates, types, report.entities, c.examples_per_feature, c.seed, progress,
            max_negative_share=c.negative_share, verify=verify,
        )
        report.planned = len(report.feature_sentences) * c.examples_per_feature
    else:
        plans = plan_examples(report.feature_sentences, report.entities, c.examples_per_feature,
                              c.entities_per_example, seed=c.seed)
        report.planned = len(plans)
        progress = on_step("reverse sentences", len(plans)) if on_step else None
        kept, report.rejected = write_reverse_sentences(llm, plans, progress=progress)
        sentences = [s for _, s in kept]
    meta = {"llm": llm.model, "prompts": templates_hash(), "config": c.model_dump()}
    library = ExampleLibrary(types, embedder.name, meta)
    examples = [Example(_example_id(s.text), s.text, s.spans, "synthetic") for s in sentences]
    unique = list({e.id: e for e in examples}.values())
    if unique:
        library.extend(unique, embedder.embed([e.text for e in unique]))
    report.kept = len(unique)
    log.info("library built: %d of %d planned examples kept; rejected %s", report.kept, report.planned,
             dict(report.rejected))
    return library, report


def _verifier(llm: LLMClient, embedder: Embedder, types: dict[str, str], config: MethodConfig) -> Verify:
    """The zero-shot recognizer's types for each name in the given sentences."""
    recognizer = Recognizer(llm, embedder, types, None, config.model_copy(update={"samples": 1}))

    def verify(sentences: Sequence[str]) -> list[dict[str, set[str]]]:
        judged = []
        for found in recognizer.recognize(sentences):
            names: dict[str, set[str]] = {}
            for span in found.spans:
                names.setdefault(squash(found.text[span.start : span.end]), set()).add(span.label)
            judged.append(names)
        return judged

    return verify


def _example_id(text: str) -> str:
    return "syn-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
