"""The method's knobs as plain data: the engine takes a MethodConfig, never the environment."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

__all__ = ["MethodConfig"]


class MethodConfig(BaseModel):
    """Hyper-parameters of ReverseNER; docs/method.md (Why these defaults) says why each default is what it is."""

    feature_sentences: int = Field(16, ge=1, description="k: clusters, so feature sentences, per library.")
    entities_per_type: int = Field(12, ge=1, description="Entities the LLM invents per type.")
    entities_per_example: int = Field(2, ge=1, description="Most entities put into one reverse sentence.")
    examples_per_feature: int = Field(2, ge=1, description="Reverse sentences written per feature sentence.")
    demonstrations: int = Field(
        4, ge=0, description="m: nearest generated examples shown per text. While the library holds no more than "
        "one prompt shows (m generated examples, HUMAN_DEMONSTRATIONS corrections, the NEGATIVE_SHARE cap), every "
        "text is shown all of it, corrections nearest the question, and no text is embedded.",
    )
    human_demonstrations: int = Field(
        2, ge=0, description="Nearest human corrections shown per text, in addition to the m generated examples.",
    )
    coverage_demonstrations: int = Field(
        0, ge=0, description="Per text, up to this many more human corrections, each showing a type the project's "
        "corrections show the model missing (recall below 0.5 on at least 3 of them) where no other demonstration "
        "shows it: the nearest correction that holds it. 0 (the default until a learning curve measures it): off.",
    )
    fixes_first: int = Field(
        0, ge=0, description="Among this many nearest corrections per text, those that changed the model's prediction "
        "(a region retyped, re-bounded, deleted or added) fill the HUMAN_DEMONSTRATIONS places first. 0 (the default "
        "until a learning curve measures it), or at most HUMAN_DEMONSTRATIONS: the nearest, whatever they fixed.",
    )
    corrections_per_slot: int = Field(
        0, ge=0, description="For every this many stored corrections, one of the m generated demonstrations gives its "
        "place to one more nearest correction, down to one generated demonstration. 0 (the default until a learning "
        "curve measures it): corrections never displace generated examples.",
    )
    negative_share: float = Field(
        0.25, ge=0, lt=1,
        description="Most share of entity-free examples in a library build and among one text's demonstrations "
        "(so 1 of m = 4): the small model copies empty answers when they dominate.",
    )
    samples: int = Field(1, ge=1, description="s: answers sampled per text for self-consistency (1 = greedy, no vote).")
    temperature: float = Field(0.7, ge=0, description="Sampling temperature when samples > 1.")
    vote_threshold: float = Field(0.5, gt=0, le=1, description="Min vote share for an entity to be kept.")
    min_score: float = Field(
        0.25, ge=0, le=1,
        description="Entities scored below this are dropped (score: token probability, or vote share when samples "
        "> 1); 0 keeps every entity.",
    )
    combine_zero_shot: bool = Field(
        True, description="Also ask each text without demonstrations (one more call, with a shorter prompt); keep "
        "what both answers say, and what either alone scores at least COMBINE_MIN_SCORE (the only variant whose "
        "gain over zero-shot had its 95% interval above zero on both data sets; off halves the LLM calls).",
    )
    combine_min_score: float = Field(0.5, ge=0, le=1, description="See COMBINE_ZERO_SHOT.")
    max_tokens: int = Field(
        384, ge=16, description="Max completion tokens of one recognition answer; a longer chunk gets "
        "0.75 per character, so that a paragraph naming many entities is not cut off.",
    )
    max_chunk_chars: int = Field(
        1000, ge=100, description="Most characters of one chunk (one LLM request): a longer sentence is cut at "
        "whitespace, and with PACK_SENTENCES consecutive sentences are packed up to it.",
    )
    pack_sentences: bool = Field(
        False, description="Pack consecutive sentences into chunks of MAX_CHUNK_CHARS (one request each); off, every "
        "sentence is its own chunk. Off by default: with long chunks the bundled model found fewer entities in "
        "WikiGold documents, and shorter ones are still being measured (docs/method.md, Step by step).",
    )
    reconcile_mentions: bool = Field(
        True, description="Give every occurrence of a name in one text one type (score-weighted majority) and "
        "label its unlabeled occurrences where it was labeled with a score of at least COMBINE_MIN_SCORE.",
    )
    name_memory: bool = Field(
        True, description="Label a name annotators labeled one way wherever it occurs verbatim in later predictions, "
        "and stop predicting a name they only deleted (the project's memory of names, from its corrections).",
    )
    memory_agreement: float = Field(
        0.75, gt=0.5, le=1, description="Share of a name's corrections that must agree for NAME_MEMORY to apply it; "
        "its regions are scored with that share.",
    )
    learn_thresholds: bool = Field(
        True, description="Per entity type, raise MIN_SCORE to the score threshold that maximizes F1 on the "
        "project's corrections (what annotators kept and deleted of the LLM's answers), where it wins on a paired "
        "bootstrap over them; from THRESHOLD_CORRECTIONS corrections on.",
    )
    span_model: bool = Field(
        True, description="From THRESHOLD_CORRECTIONS corrections on, train a light span model per project (the "
        "embedder's word-piece vectors, a logistic regression) on its corrections and generated examples, and add "
        "its spans scored at least SPAN_MIN_SCORE where the LLM found nothing, for each type the corrections show "
        "the LLM missing whose spans raise F1 on the corrections when each is predicted by a model trained without "
        "it (5 folds). Retrained when the model_version's generation moves on (VERSION_EVERY).",
    )
    span_min_score: float = Field(0.5, ge=0, le=1, description="See SPAN_MODEL.")
    threshold_corrections: int = Field(
        25, ge=1, description="Corrections a project needs before LEARN_THRESHOLDS raises a threshold.",
    )
    max_chunks: int = Field(
        64, ge=1, description="Most chunks predicted per text: a longer text gets predictions for its beginning, "
        "and a message says how much of it was predicted."
    )
    seed: int = Field(0, description="Seed for clustering and entity sampling.")
    feature_strategy: Literal["cluster", "random"] = Field(
        "cluster", description="How feature sentences are picked (random is an ablation)."
    )
    reverse_strategy: Literal["template", "rewrite"] = Field(
        "template",
        description="How reverse sentences are written: fill a [TYPE]-slot template the LLM abstracts from "
        "the feature sentence, or have the LLM rewrite the feature sentence around given entities.",
    )
    verify_templates: bool = Field(
        False, description="Refuse a template whose slot type differs from the zero-shot type of the name it replaced "
        "(one zero-shot call per feature sentence, usually cached).",
    )
    demo_strategy: Literal["nearest", "random"] = Field(
        "nearest", description="How demonstrations are picked (random is an ablation)."
    )

    # What a library build reads: rows and projects that agree on these share one library.
    BUILD_FIELDS: ClassVar[tuple[str, ...]] = (
        "feature_sentences", "entities_per_type", "entities_per_example", "examples_per_feature", "negative_share",
        "seed", "feature_strategy", "reverse_strategy", "verify_templates")

    def build_settings(self) -> dict:
        """The settings a library build depends on (with verify_templates it also recognizes: all of them)."""
        return self.method().model_dump(include=None if self.verify_templates else set(self.BUILD_FIELDS))

    def use_settings(self) -> dict:
        """The settings that change predictions but not the library (MIN_SCORE, COMBINE_ZERO_SHOT, ...)."""
        return self.method().model_dump(exclude=set(self.BUILD_FIELDS))

    def method(self) -> MethodConfig:
        """Just the method's fields (drops the settings of a subclass)."""
        return MethodConfig(**self.model_dump(include=set(MethodConfig.model_fields)))
