"""The batching wrapper around an embedder: concurrent callers share one batch, each gets its rows."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from reversener.embeddings import BatchingEmbedder
from reversener.errors import ConfigError


class Recording:
    name = "recording"

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    def embed(self, texts):
        self.batches.append(list(texts))
        if self.fail:
            raise RuntimeError("the model is gone")
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def _in_threads(embedder, texts):
    results, start = {}, threading.Barrier(len(texts))

    def ask(text):
        start.wait()
        try:
            results[text] = embedder.embed([text])
        except RuntimeError as err:
            results[text] = err

    threads = [threading.Thread(target=ask, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_texts_share_a_batch_and_each_caller_gets_its_own_vector():
    inner = Recording()
    texts = ["a", "bb", "ccc", "dddd"]
    results = _in_threads(BatchingEmbedder(inner, window=0.2), texts)
    assert len(inner.batches) < len(texts) and sorted(t for b in inner.batches for t in b) == texts
    for text in texts:
        assert results[text].tolist() == [[len(text), ord(text[0])]]


def test_a_large_call_goes_straight_through_and_an_error_reaches_every_caller():
    inner = Recording()
    BatchingEmbedder(inner, max_batch=2).embed(["x", "y", "z"])
    assert inner.batches == [["x", "y", "z"]]
    results = _in_threads(BatchingEmbedder(Recording(fail=True), window=0.2), ["a", "b"])
    assert all(isinstance(r, RuntimeError) for r in results.values())
    with pytest.raises(RuntimeError):
        BatchingEmbedder(Recording(fail=True)).embed(["a"])


def test_a_model_that_does_not_state_its_dimension_is_a_config_error(monkeypatch):
    from reversener.embeddings import SentenceTransformerEmbedder

    class Dimensionless:
        def get_sentence_embedding_dimension(self) -> None:
            return None

    embedder = SentenceTransformerEmbedder("some/model")
    monkeypatch.setattr(embedder, "load", Dimensionless)
    with pytest.raises(ConfigError, match="some/model does not state its dimension"):
        embedder.embed([])


def test_the_bundled_model_in_bfloat16_gives_float32_unit_vectors_close_to_float32s():
    from reversener.embeddings import SentenceTransformerEmbedder
    from reversener.runtime import Runtime
    from reversener.settings import Settings

    texts = ["Anna flew to Oslo on Monday.", "Siemens opened a plant near Berlin.", "Is it me ?"]
    exact = SentenceTransformerEmbedder(threads=1).embed(texts)
    half = Runtime(Settings(embedding_dtype="bfloat16")).embedder.inner.embed(texts)
    assert half.dtype == exact.dtype == np.float32 and half.shape == exact.shape == (3, 384)
    assert np.allclose(np.linalg.norm(half, axis=1), 1, atol=1e-3)
    assert ((half * exact).sum(axis=1) > 0.999).all() and not np.array_equal(half, exact)


def test_the_bundled_models_word_pieces_carry_their_offsets_and_no_special_tokens():
    from reversener.embeddings import BatchingEmbedder, SentenceTransformerEmbedder

    embedder = BatchingEmbedder(SentenceTransformerEmbedder(threads=1))
    [(offsets, vectors), (none, empty)] = embedder.pieces(["The Zaireans won.", ""])
    text = "The Zaireans won."
    assert "".join(text[a:b] for a, b in offsets) == "TheZaireanswon." and len(offsets) > 4  # a name in pieces
    assert vectors.shape == (len(offsets), 384) and vectors.dtype == np.float32
    assert none.shape == (0, 2) and empty.shape[0] == 0
    assert embedder.pieces([]) == []  # asked for no text (a library with no generated example)
