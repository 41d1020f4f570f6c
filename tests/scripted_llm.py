"""Test doubles for the LLM and the embedder: scripted, deterministic, no network, no model.

    llm = ScriptedLLM(lambda request, i: '{"entities": []}')
    llm = ScriptedLLM.always('{"sentence": "..."}')
    llm = ScriptedLLM.sequence(["first answer", LLMError("boom"), "third answer"])

`respond(request, sample_index)` is called once per sample of every request (sample_index runs
0 .. request.samples - 1). It returns the answer text, a Completion (text with log-probabilities),
or an LLMError: the request then fails and its reply in the result of `complete` carries that error,
as with the real gateway.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from reversener.errors import LLMError
from reversener.library import ExampleLibrary
from reversener.llm.client import Completion, LLMReply, LLMRequest, LLMStats, Progress
from reversener.types import Example

__all__ = ["ScriptedLLM", "FakeEmbedder", "Respond"]

Respond = Callable[[LLMRequest, int], "str | Completion | LLMError"]


class ScriptedLLM:
    """An LLMClient whose answers come from a function; it records every request it is sent."""

    def __init__(self, respond: Respond, model: str = "scripted") -> None:
        self.model = model
        self.stats = LLMStats()
        self.requests: list[LLMRequest] = []
        self.batches: list[list[LLMRequest]] = []  # one entry per complete() call
        self._respond = respond
        self._lock = threading.Lock()

    # --- convenient constructors ---
    @classmethod
    def always(cls, answer: str | Completion | LLMError, model: str = "scripted") -> ScriptedLLM:
        """The same answer (or failure) for every sample of every request."""
        return cls(lambda request, index: answer, model)

    @classmethod
    def sequence(cls, answers: Iterable[str | Completion | LLMError], model: str = "scripted") -> ScriptedLLM:
        """Answers handed out in order, one per sample; running out is a test error."""
        pending = list(answers)

        def respond(request: LLMRequest, index: int) -> str | Completion | LLMError:
            if not pending:
                raise AssertionError(f"ScriptedLLM ran out of answers; last prompt: {prompt_of(request)[:200]!r}")
            return pending.pop(0)

        return cls(respond, model)

    # --- the LLMClient protocol ---
    def complete(self, requests: Sequence[LLMRequest], progress: Progress | None = None) -> list[LLMReply]:
        results: list[LLMReply] = []
        with self._lock:
            self.batches.append(list(requests))
        for request in requests:
            with self._lock:
                self.requests.append(request)
            results.append(self._answer(request))
            if progress is not None:
                progress(1)
        return results

    def _answer(self, request: LLMRequest) -> LLMReply:
        completions: list[Completion] = []
        for index in range(request.samples):
            answer = self._respond(request, index)
            self.stats.add(calls=1)
            if isinstance(answer, LLMError):
                self.stats.add(failures=1)
                return LLMReply(error=answer)
            if isinstance(answer, str):
                answer = Completion(answer)
            if not isinstance(answer, Completion):
                raise TypeError(f"respond must return str, Completion or LLMError, got {type(answer).__name__}")
            completions.append(answer)
        return LLMReply(tuple(completions))

    # --- helpers for assertions ---
    @property
    def prompts(self) -> list[str]:
        """The last message of every recorded request, in order."""
        return [prompt_of(r) for r in self.requests]


def prompt_of(request: LLMRequest) -> str:
    """The content of a request's last message (the prompt the step just wrote)."""
    return request.messages[-1][1] if request.messages else ""


class FakeEmbedder:
    """Deterministic L2-normalized vectors: hashed character trigrams in `dimension` buckets.

    Texts that share many trigrams get close vectors, so nearest-neighbour order is predictable.
    """

    def __init__(self, dimension: int = 64, name: str = "fake") -> None:
        self.name = name
        self.dimension = dimension
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for i in range(len(padded) - 2):
                digest = hashlib.blake2b(padded[i : i + 3].encode("utf-8"), digest_size=4).digest()
                matrix[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
            norm = float(np.linalg.norm(matrix[row]))
            if norm > 0:
                matrix[row] /= norm
        return matrix


    def pieces(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Words and punctuation as word pieces, each a hashed one-hot of its lowercased form."""
        out = []
        for text in texts:
            matches = list(re.finditer(r"\w+|[^\w\s]", text))
            vectors = np.zeros((len(matches), self.dimension), dtype=np.float32)
            for row, match in enumerate(matches):
                digest = hashlib.blake2b(match.group().lower().encode("utf-8"), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "little") % self.dimension] = 1.0
            out.append((np.array([m.span() for m in matches], dtype=np.int64).reshape(-1, 2), vectors))
        return out


def entities_answer(*pairs: tuple[str, str]) -> str:
    """An LLM answer naming these (text, type) entities."""
    return json.dumps({"entities": [{"text": t, "type": k} for t, k in pairs]})


def library_of(types: dict[str, str], embedder: FakeEmbedder, *examples: Example) -> ExampleLibrary:
    """A library holding these examples, embedded by `embedder`."""
    library = ExampleLibrary(types, embedder.name)
    library.extend(examples, embedder.embed([e.text for e in examples]))
    return library
