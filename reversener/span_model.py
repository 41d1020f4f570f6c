"""A light span model per project: a second opinion for the types the LLM misses.

Each word piece of a text is a vector from the embedder's own transformer (the bundled MiniLM: no
other model to ship), with its neighbours' beside it; a logistic regression (scikit-learn) tags it
B-, I- or O per type, trained on the project's corrections and generated examples, in seconds on a
CPU. Pieces tagged alike become spans, widened to whole words, each scored with its pieces' mean
probability. `merge` adds its spans to the LLM's only for the types the project's corrections show
the LLM missing, and only where the LLM found nothing: on other types the LLM is far better.
`adopted` keeps of those types the ones whose spans raise F1 on corrections the model did not learn
from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .text import chunk_text
from .types import Sentence, Span

__all__ = ["TokenFeatures", "SpanModel", "merge", "adopted", "LearnedSpans", "learn_spans", "features_of", "Pieces",
           "NO_SPANS"]

# An embedder's word pieces per text: character offsets [n, 2] and vectors [n, d].
Pieces = Callable[[Sequence[str]], list[tuple[np.ndarray, np.ndarray]]]
SENTENCE_CHARS = 1000  # texts are read a sentence at a time: MiniLM reads 256 pieces at most
FOUND_TEXTS = 4096  # texts whose spans a trained model keeps: more than one page of tasks holds

OUTSIDE = "O"


@dataclass(frozen=True)
class TokenFeatures:
    """One text's word pieces: character offsets [n, 2] and vectors [n, d]."""

    offsets: np.ndarray
    vectors: np.ndarray

    @classmethod
    def of(cls, text: str, offsets: np.ndarray, vectors: np.ndarray) -> TokenFeatures:
        """The pieces' vectors with their shape in the text beside them: MiniLM lowercases, and in a
        cased script a capital often marks a name."""
        shapes = np.array([_shape(text, int(start), int(end), k == 0) for k, (start, end) in enumerate(offsets)],
                          dtype=np.float32).reshape(-1, len(_shape("a", 0, 1, True)))
        return cls(np.asarray(offsets).reshape(-1, 2), np.hstack([np.asarray(vectors, np.float32), shapes]))

    def windowed(self) -> np.ndarray:
        """Each piece's vector with its left and right neighbours' (zeros past either end)."""
        n, d = self.vectors.shape
        padded = np.vstack([np.zeros((1, d), np.float32), self.vectors, np.zeros((1, d), np.float32)])
        return np.hstack([padded[1 : n + 1], padded[:n], padded[2:]])


def tags(features: TokenFeatures, spans: Sequence[Span]) -> list[str]:
    """A piece inside a span is B-<type> if it is the span's first piece, I-<type> after it; O outside."""
    out, inside = [], None
    for start in features.offsets[:, 0]:
        span = next((s for s in spans if s.start <= start < s.end), None)
        out.append(OUTSIDE if span is None else ("I-" if span is inside else "B-") + span.label)
        inside = span
    return out


class SpanModel:
    """B/I/O tags per word piece from a logistic regression over windowed piece vectors."""

    def __init__(self, c: float = 1.0, seed: int = 0) -> None:
        self.c, self.seed = c, seed
        self._model = None

    @property
    def trained(self) -> bool:
        return self._model is not None

    def fingerprint(self) -> bytes:
        """The learned weights, rounded: equal for equal training."""
        return b"" if self._model is None else np.round(self._model.coef_, 4).tobytes()

    def fit(self, sentences: Sequence[Sentence], features: Sequence[TokenFeatures]) -> SpanModel:
        """Train on labeled texts (corrections, generated examples) and their pieces; with no entity among
        them, nothing is learned and `predict` finds nothing."""
        from sklearn.linear_model import LogisticRegression

        labels = [tag for s, f in zip(sentences, features, strict=True) for tag in tags(f, s.spans)]
        if len(set(labels)) < 2:
            self._model = None
            return self
        matrix = np.vstack([f.windowed() for f in features if len(f.offsets)])
        self._model = LogisticRegression(C=self.c, max_iter=500, random_state=self.seed).fit(matrix, labels)
        return self

    def predict(self, texts: Sequence[str], features: Sequence[TokenFeatures]) -> list[list[Span]]:
        """Each text's spans, scored with the mean probability of their pieces' tags."""
        if self._model is None:
            return [[] for _ in texts]
        return [self._spans(text, f) for text, f in zip(texts, features, strict=True)]

    def _spans(self, text: str, features: TokenFeatures) -> list[Span]:
        if not len(features.offsets):
            return []
        model = self._model
        assert model is not None
        probabilities = model.predict_proba(features.windowed())
        best = probabilities.argmax(1)
        classes = list(model.classes_)
        found: list[tuple[int, int, str, list[float]]] = []
        for (start, end), k, row in zip(features.offsets, best, probabilities, strict=True):
            tag = classes[k]
            if tag == OUTSIDE:
                continue
            kind, label = tag[:1], tag[2:]
            if kind == "I" and found and found[-1][2] == label and _adjacent(text, found[-1][1], start):
                found[-1] = (found[-1][0], int(end), label, found[-1][3] + [float(row[k])])
            else:
                found.append((int(start), int(end), label, [float(row[k])]))
        spans = {}
        for start, end, label, probs in found:
            start, end = _word(text, start, end)
            span = Span(start, end, label, round(float(np.mean(probs)), 4))
            spans.setdefault((start, end), span)
        return sorted(spans.values())


def features_of(pieces: Pieces, texts: Sequence[str]) -> list[TokenFeatures]:
    """Each text's pieces with their shapes."""
    return [TokenFeatures.of(text, offsets, vectors)
            for text, (offsets, vectors) in zip(texts, pieces(list(texts)), strict=True)]


@dataclass(frozen=True)
class LearnedSpans:
    """What a project's span model adds to an answer: its spans of `types` (those adopted of the
    `candidates` weighed), scored at least `min_score`, where the answer has nothing."""

    model: SpanModel
    types: frozenset[str]
    min_score: float
    pieces: Pieces
    candidates: frozenset[str] = frozenset()
    # The model's spans per text: an answer is served again at every request that shows its task, and
    # a model is fixed once trained, so each text is read once per model.
    found: Callable[[str], tuple[Span, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "found", lru_cache(maxsize=FOUND_TEXTS)(self._found))

    def __bool__(self) -> bool:
        return bool(self.types)

    @property
    def rejected(self) -> frozenset[str]:
        """The candidates judged on held-out corrections and not adopted."""
        return self.candidates - self.types

    def digest(self) -> str:
        """A short hash of the adopted types and the model: it changes when what it adds may change."""
        content = ",".join(sorted(self.types)).encode() + self.model.fingerprint()
        return hashlib.sha256(content).hexdigest()[:6]

    def add(self, text: str, spans: Sequence[Span], types: Collection[str]) -> list[Span]:
        """`spans` with the model's of the adopted `types`, a sentence of the text at a time."""
        wanted = self.types & set(types)
        if not wanted:
            return list(spans)
        return merge(spans, self.found(text), wanted, self.min_score)

    def _found(self, text: str) -> tuple[Span, ...]:
        """The model's spans in the text, of every type it knows, read a sentence at a time."""
        ranges = chunk_text(text, SENTENCE_CHARS, pack=False)
        sentences = [text[a:b] for a, b in ranges]
        found = self.model.predict(sentences, features_of(self.pieces, sentences))
        return tuple(Span(s.start + a, s.end + a, s.label, s.score)
                     for (a, _), part in zip(ranges, found, strict=True) for s in part)


def _no_pieces(texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    raise RuntimeError("a span model that adds no type reads no text")


NO_SPANS = LearnedSpans(SpanModel(), frozenset(), 1.0, _no_pieces)


def learn_spans(corrections: Sequence[Sentence], predicted: Sequence[Sequence[Span] | None],
                candidates: Collection[str], min_score: float, pieces: Pieces,
                extra: Sequence[Sentence] = ()) -> LearnedSpans:
    """The span model of a project: the `candidates` (the types the LLM misses) that `adopted` keeps on
    the corrections whose prediction is known, and a model trained on every correction and `extra`."""
    judged = [i for i, p in enumerate(predicted) if p is not None]
    if not candidates or not judged:
        return LearnedSpans(SpanModel(), frozenset(), min_score, pieces)
    features = features_of(pieces, [c.text for c in corrections])
    shots = list(zip(extra, features_of(pieces, [e.text for e in extra]), strict=True))
    types = adopted([corrections[i] for i in judged], [predicted[i] or () for i in judged],
                    [features[i] for i in judged], candidates, min_score, shots)
    model = SpanModel()
    if types:
        model.fit(list(corrections) + [s for s, _ in shots], features + [f for _, f in shots])
    return LearnedSpans(model, frozenset(types), min_score, pieces, frozenset(candidates))


def _shape(text: str, start: int, end: int, first: bool) -> tuple[float, ...]:
    """Capitalized, all capitals, starts a word, first of the text, holds a digit."""
    piece = text[start:end]
    return (float(piece[:1].isupper()), float(piece.isupper() and len(piece) > 1),
            float(start == 0 or not text[start - 1].isalnum()), float(first), float(any(c.isdigit() for c in piece)))


def _adjacent(text: str, end: int, start: int) -> bool:
    """Whether only spaces separate two pieces (an I- piece after a line break starts a new span)."""
    return start >= end and not text[end:start].strip(" ")


def _word(text: str, start: int, end: int) -> tuple[int, int]:
    """A piece span widened to whole words: a model that tags "Ital" of "Italians" means the word."""
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


def merge(llm: Sequence[Span], model: Sequence[Span], types: Collection[str], min_score: float) -> list[Span]:
    """The LLM's spans plus the model's of `types` scored at least `min_score` that overlap none of
    them (nor each other)."""
    out = list(llm)
    for span in sorted(model, key=lambda s: -(s.score or 0)):
        if span.label in types and (span.score or 0) >= min_score and not any(
                s.start < span.end and span.start < s.end for s in out):
            out.append(span)
    return sorted(out)


def adopted(corrections: Sequence[Sentence], answers: Sequence[Sequence[Span]], features: Sequence[TokenFeatures],
            candidates: Collection[str], min_score: float, extra: Sequence[tuple[Sentence, TokenFeatures]] = (),
            folds: int = 5, seed: int = 0) -> list[str]:
    """Of the `candidates`, the types whose spans raise micro F1 on the corrections when merged into
    the LLM's `answers` for them, each correction predicted by a model trained without its fold (on
    the others and `extra`, the generated examples)."""
    from .metrics import evaluate

    if not candidates or len(corrections) < folds:
        return []
    fold = np.random.default_rng(seed).permutation(len(corrections)) % folds
    found: list[list[Span]] = [[] for _ in corrections]
    for k in range(folds):
        train = [i for i in range(len(corrections)) if fold[i] != k]
        model = SpanModel(seed=seed).fit([corrections[i] for i in train] + [s for s, _ in extra],
                                         [features[i] for i in train] + [f for _, f in extra])
        held = [i for i in range(len(corrections)) if fold[i] == k]
        for i, spans in zip(held, model.predict([corrections[i].text for i in held], [features[i] for i in held]),
                            strict=True):
            found[i] = spans
    base = evaluate(corrections, [Sentence(c.text, tuple(a)) for c, a in zip(corrections, answers, strict=True)])
    kept = []
    for label in sorted(candidates):
        merged = [Sentence(c.text, tuple(merge(a, f, {label}, min_score)))
                  for c, a, f in zip(corrections, answers, found, strict=True)]
        if evaluate(corrections, merged).micro.f1 > base.micro.f1:
            kept.append(label)
    return kept
