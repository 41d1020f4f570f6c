"""Step 6: inference, nearest examples as demonstrations, ask, parse, align, vote (step 7)."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .align import align
from .combine import combine
from .confidence import above, answer_confidence, score_mentions, task_score, weakest
from .config import MethodConfig
from .consistency import vote
from .corrections import Hints
from .embeddings import Embedder
from .errors import ParseError
from .library import ExampleLibrary
from .llm.client import Completion, LLMClient, LLMReply, LLMRequest, Progress
from .parse import parse_mentions
from .prompts import render
from .reconcile import reconcile
from .text import chunk_text
from .types import Example, Sentence, Span

__all__ = ["Recognizer", "Prediction", "answer_json", "PIPELINE_SLICE", "FAILED"]

PIPELINE_SLICE = 16  # texts prepared per step of a request's pipeline (embedding is batched this wide)
# Answer tokens a chunk may need per character: enough for a results list that names a person and a
# country on every line ("3. Carole Montillet ( France ) 1:18.11"); a cut-off answer loses its last entities.
ANSWER_TOKENS_PER_CHAR = 0.75
FAILED = "LLM failed"  # how a prediction's error starts when an LLM call failed (not a bad answer)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """The spans found in one text, what went wrong on the way (empty when nothing did), and the
    `error` that makes the spans unusable (an LLM call failed, or no answer could be read): a
    failed prediction is not an empty one. `confidence` is the confidence in the answer as a whole
    (its weakest chunk and reply; None where unknown), `score` the task's review score
    (`confidence.task_score`); `demonstrations` are the ids of the examples it was shown."""

    text: str
    spans: tuple[Span, ...]
    problems: tuple[str, ...] = field(default=())
    error: str | None = None
    score: float | None = None
    demonstrations: tuple[str, ...] = field(default=())
    confidence: float | None = None

    @property
    def sentence(self) -> Sentence:
        return Sentence(self.text, self.spans)


def answer_json(sentence: Sentence) -> str:
    """The answer we want from the LLM for a sentence: also how demonstrations show their labels."""
    entities = [{"text": sentence.text[s.start : s.end], "type": s.label} for s in sorted(sentence.spans)]
    return json.dumps({"entities": entities}, ensure_ascii=False)


class Recognizer:
    """Recognizes entities of the given types; with no library (or m=0) it is the zero-shot baseline."""

    def __init__(
        self, llm: LLMClient, embedder: Embedder, types: dict[str, str],
        library: ExampleLibrary | None = None, config: MethodConfig | None = None, cover: Sequence[str] = (),
        hints: Hints | None = None,
    ) -> None:
        """`cover`: the types the project's corrections show the model missing, most missed first, to
        show in every prompt (COVERAGE_DEMONSTRATIONS); `hints`: names its annotators corrected, listed
        after the instructions of every prompt."""
        self.llm, self.embedder, self.types, self.library = llm, embedder, dict(types), library
        self.config = config or MethodConfig()
        self.cover = [label for label in cover if label in self.types]
        self._system = render("recognize_system", types=self.types)
        if hints and (hints := hints.only(self.types)):
            self._system += "\n\n" + render("recognize_hints", hints=hints)
        self._rng = np.random.default_rng(self.config.seed)

    @property
    def zero_shot(self) -> bool:
        return not self.library or self.config.demonstrations + self.config.human_demonstrations == 0

    def recognize(self, texts: Sequence[str], progress: Progress | None = None) -> list[Prediction]:
        chunks, skipped = self._chunks(texts)
        chunk_texts = [texts[i][start:end] for i, start, end in chunks]
        # A text may be several chunks: advance by a text's share per chunk, so bars count texts.
        step = len(texts) / len(chunks) if chunks else 0.0
        demos, answers = self._ask(chunk_texts, (lambda n: progress(n * step)) if progress else None)
        spans: list[list[Span]] = [[] for _ in texts]
        problems: list[list[str]] = [[] for _ in texts]
        errors: list[str | None] = [None for _ in texts]
        confidences: list[list[float | None]] = [[] for _ in texts]
        shown: list[dict[str, None]] = [{} for _ in texts]
        for (i, _, _), shots in zip(chunks, demos, strict=True):
            shown[i].update(dict.fromkeys(example.id for example in shots))
        for i, (total, offset) in skipped.items():
            problems[i].append(f"text too long: predicted its first {self.config.max_chunks} of {total} chunks "
                               f"(characters 0-{offset} of {len(texts[i])}); raise MAX_CHUNKS for more")
        for (i, offset, _), text, replies in zip(chunks, chunk_texts, answers, strict=True):
            failed = next((reply.error for reply in replies if reply.error is not None), None)
            if failed is not None:
                errors[i] = errors[i] or f"{FAILED}: {failed}"
                continue
            found, issues, confidence, error = self.read_replies(text, replies)
            errors[i] = errors[i] or error
            spans[i].extend(Span(s.start + offset, s.end + offset, s.label, s.score) for s in found)
            problems[i].extend(issues)
            confidences[i].append(confidence)
        # Names are settled over the part of a text that was predicted, once every chunk is read.
        spans = [found if errors[i] else self.settled(text[: skipped[i][1]] if i in skipped else text, found)
                 for i, (text, found) in enumerate(zip(texts, spans, strict=True))]
        return [Prediction(t, tuple(sorted(s)), tuple(p), e, task_score(weakest(c), s), tuple(d), weakest(c))
                for t, s, p, e, c, d in zip(texts, spans, problems, errors, confidences, shown, strict=True)]

    def _chunks(self, texts: Sequence[str]) -> tuple[list[tuple[int, int, int]], dict[int, tuple[int, int]]]:
        """Every text's chunks as (text index, start, end); for a text of more than MAX_CHUNKS, its
        number of chunks and where the first one left out starts."""
        chunks: list[tuple[int, int, int]] = []
        skipped: dict[int, tuple[int, int]] = {}
        for i, text in enumerate(texts):
            pieces = chunk_text(text, self.config.max_chunk_chars, self.config.pack_sentences)
            if len(pieces) > self.config.max_chunks:  # bounded work per task, whatever its length
                skipped[i] = (len(pieces), pieces[self.config.max_chunks][0])
                pieces = pieces[: self.config.max_chunks]
            chunks.extend((i, start, end) for start, end in pieces)
        return chunks, skipped

    def settled(self, text: str, spans: Sequence[Span]) -> list[Span]:
        """A whole text's spans, read from all its chunks, with one type per name (RECONCILE_MENTIONS)."""
        if not self.config.reconcile_mentions:
            return list(spans)
        return reconcile(text, spans, self.config.combine_min_score)

    def _ask(self, texts: Sequence[str], progress: Progress | None) -> tuple[list[list[Example]],
                                                                          list[list[LLMReply]]]:
        """Each text's demonstrations and replies (one per request of `requests_for`). Texts are
        prepared (embedded, prompted) a slice at a time and each slice is sent as soon as it is ready,
        so the first LLM calls do not wait for the last text's embedding; the gateway bounds how many
        calls run at once across slices."""
        slices = [texts[k : k + PIPELINE_SLICE] for k in range(0, len(texts), PIPELINE_SLICE)]
        demos: list[list[Example]] = []
        replies: list[list[LLMReply] | BaseException] = [[] for _ in slices]  # each slice's, set by its thread
        threads = []
        for k, piece in enumerate(slices):
            shots = self.demonstrations(piece)
            demos += shots
            asked = [self.requests_for(text, s) for text, s in zip(piece, shots, strict=True)]
            flat = [request for requests in asked for request in requests]
            done = None if progress is None else _scaled(progress, 1 / len(asked[0]))
            if len(slices) == 1:  # one slice (a backend task): no thread at all
                replies[k] = self.llm.complete(flat, done)
                continue
            # Daemon threads: a Ctrl-C leaves at once instead of waiting for an LLM answer.
            thread = threading.Thread(target=_complete_into, args=(replies, k, self.llm, flat, done),
                                      name="recognize", daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        answers: list = []
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
            answers += reply
        width = len(answers) // len(texts) if texts else 1
        return demos, [answers[k : k + width] for k in range(0, len(answers), width)]

    def requests_for(self, text: str, shots: Sequence[Example] = ()) -> list[LLMRequest]:
        """What is asked for one text: with its demonstrations, and with COMBINE_ZERO_SHOT also without."""
        if self._combining:
            return [self.request(text, shots), self.request(text)]
        return [self.request(text, shots)]

    @property
    def _combining(self) -> bool:
        return self.config.combine_zero_shot and not self.zero_shot

    def read_replies(self, text: str, replies: Sequence[LLMReply]) -> tuple[list[Span], list[str], float | None,
                                                                      str | None]:
        """A text's spans from its replies (see `requests_for`, none of them an error), the problems met,
        the confidence in the answer, and the error that makes it unusable (no sample of any reply could
        be read)."""
        read = [self.read(text, reply.completions) for reply in replies]
        issues = [issue for _, found_issues, _ in read for issue in found_issues]
        unusable = all(reply.completions and len(found_issues) == len(reply.completions)
                       for reply, (_, found_issues, _) in zip(replies, read, strict=True))
        error = f"LLM answer unusable: {issues[0]}" if unusable and issues else None
        return self.joined([found for found, _, _ in read]), issues, weakest([c for _, _, c in read]), error

    def joined(self, found: Sequence[Sequence[Span]]) -> list[Span]:
        """One text's spans from each reply's (in `requests_for` order): the one answer's, or with
        COMBINE_ZERO_SHOT what both answers give and what either alone scores combine_min_score."""
        if len(found) == 1:
            return list(found[0])
        return combine(found[1], found[0], "union", self.config.combine_min_score)

    def messages(self, text: str, shots: Sequence[Example] = ()) -> tuple[tuple[str, str], ...]:
        """Fixed instructions first and the varying parts last, so servers can reuse the prefix."""
        turns = [("system", self._system)]
        for example in shots:
            turns += [("user", render("recognize_user", text=example.text)),
                      ("assistant", answer_json(example.sentence))]
        return (*turns, ("user", render("recognize_user", text=text)))

    def request(self, text: str, shots: Sequence[Example] = ()) -> LLMRequest:
        """The LLM request for one text shown these demonstrations, in this order; a long text may
        name more entities, so its answer may be longer than MAX_TOKENS."""
        c = self.config
        greedy = c.samples == 1
        max_tokens = max(c.max_tokens, math.ceil(ANSWER_TOKENS_PER_CHAR * len(text)))
        return LLMRequest(self.messages(text, shots), samples=c.samples,
                          temperature=0.0 if greedy else c.temperature, max_tokens=max_tokens, logprobs=greedy)

    def demonstrations(self, texts: Sequence[str]) -> list[list[Example]]:
        """Each text's demonstrations, in the order shown (embedded in one batch). None is longer than
        MAX_CHUNK_CHARS (a correction stored whole before corrections were split per chunk), so a
        prompt holds at most m + HUMAN_DEMONSTRATIONS + COVERAGE_DEMONSTRATIONS + 1 chunks' worth of text."""
        longest, fixes_first = self.config.max_chunk_chars, self.config.fixes_first
        library = self.library
        if library is None or self.zero_shot or not texts:
            return [[] for _ in texts]
        m, humans = self._places(library)
        if self.config.demo_strategy == "random":
            pool = [example for example in library if len(example.text) <= longest]
            picks = [[pool[j] for j in self._rng.choice(len(pool), min(m, len(pool)), replace=False)]
                     for _ in texts]
        else:
            negatives = int((m + humans) * self.config.negative_share)
            if library.fits(m, negatives, humans):  # every text is shown all of it: nothing to embed
                picks = [library.nearest(None, m, negatives, humans, longest)[::-1]] * len(texts)
            else:
                vectors = self.embedder.embed(texts)
                picks = [self._covered(v, library.nearest(v, m, negatives, humans, longest,
                                                          fixes_first=fixes_first)[::-1]) for v in vectors]
        return [_ordered(shots) for shots in picks]

    def _places(self, library: ExampleLibrary) -> tuple[int, int]:
        """Generated and human demonstrations per text: HUMAN_DEMONSTRATIONS, plus one generated place
        handed over for every CORRECTIONS_PER_SLOT corrections in the library, keeping one generated."""
        m, every = self.config.demonstrations, self.config.corrections_per_slot
        moved = min(library.counts().get("human", 0) // every, m - 1) if every and m else 0
        return m - moved, self.config.human_demonstrations + moved

    def _covered(self, vector: np.ndarray, shots: list[Example]) -> list[Example]:
        """`shots` with, for each type to cover that none of them shows, the nearest human correction that
        does, up to COVERAGE_DEMONSTRATIONS; put first, the farthest from the question."""
        room, library = self.config.coverage_demonstrations, self.library
        shown = {s.label for example in shots for s in example.spans}
        added: list[Example] = []
        for label in self.cover:
            if len(added) >= room or library is None:
                break
            if label in shown:
                continue
            found = library.nearest(vector, 0, None, 1, self.config.max_chunk_chars, label=label)
            if found and found[0] not in shots and found[0] not in added:
                added.append(found[0])
                shown |= {s.label for s in found[0].spans}
        return added + shots

    def read(self, text: str, answers: Sequence[Completion]) -> tuple[list[Span], list[str], float | None]:
        """A text's spans from its answers (one per sample) above MIN_SCORE, the problems met on the
        way, and the confidence in the answer."""
        found, issues, confidence = self._vote(text, answers)
        return self.confident(found), issues, confidence

    def confident(self, spans: Sequence[Span]) -> list[Span]:
        """The spans that reach MIN_SCORE (those without a score are kept)."""
        return above(spans, self.config.min_score)

    def _vote(self, text: str, answers: Sequence[Completion]) -> tuple[list[Span], list[str], float | None]:
        """The spans, the problems, and the confidence in the answer: from the tokens' log-probabilities
        for one sample, else the share of samples that gave exactly the voted spans."""
        per_sample: list[list[Span]] = []
        issues: list[str] = []
        for answer in answers:
            try:
                mentions = parse_mentions(answer.text, self.types)
            except ParseError as err:
                issues.append(str(err))
                per_sample.append([])  # an unusable answer is a vote for nothing
                continue
            per_sample.append(align(text, score_mentions(answer.text, answer.logprobs, mentions)))
        if len(per_sample) == 1:
            confidence = answer_confidence(answers[0].text, answers[0].logprobs) if not issues else None
            return per_sample[0], issues, confidence
        kept = vote(per_sample, self.config.vote_threshold)
        agreeing = sum({s.key for s in sample} == {s.key for s in kept} for sample in per_sample)
        return kept, issues, agreeing / len(per_sample)


def _complete_into(replies: list, index: int, llm: LLMClient, requests: list[LLMRequest], progress) -> None:
    try:
        replies[index] = llm.complete(requests, progress)
    except BaseException as err:  # handed to the calling thread, which raises it
        replies[index] = err


def _scaled(progress: Progress, share: float) -> Progress:
    """Advances `progress` by `share` per item, so a bar counts texts while the LLM reports requests."""
    return lambda n: progress(n * share)


def _ordered(shots: list[Example]) -> list[Example]:
    """Entity-free demonstrations first, the rest as given (least similar first, so the most similar
    sits next to the question, where small models attend most). A small model copies the answer
    nearest the question: with an empty one there, tweets lost all their entities (docs/method.md, Why these
    defaults)."""
    return sorted(shots, key=lambda example: bool(example.spans))
