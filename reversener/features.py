"""Step 2: feature sentences, the real task sentences nearest the centres of embedding clusters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .embeddings import Embedder
from .text import split_sentences

__all__ = ["sentences_of", "select_feature_sentences", "feature_candidates"]

_MIN_WORDS = 4  # fragments ("Thanks !", headings) carry no structure worth copying


def sentences_of(texts: Sequence[str]) -> list[str]:
    """Distinct sentences of the task texts, sorted: the same texts in any order (Label Studio's
    API, texts seen in /predict, a file) give the same feature sentences."""
    seen: dict[str, None] = {}
    for text in texts:
        for start, end in split_sentences(text):
            sentence = text[start:end]
            if len(sentence.split()) >= _MIN_WORDS:
                seen.setdefault(sentence, None)
    if not seen:  # short texts only: keep them rather than nothing
        seen = dict.fromkeys(t.strip() for t in texts if t.strip())
    return sorted(seen)


def select_feature_sentences(
    texts: Sequence[str], embedder: Embedder, k: int, *, seed: int = 0, strategy: str = "cluster"
) -> list[str]:
    """k representative sentences: nearest each k-means centre (or, for ablations, random ones)."""
    return [ranked[0] for ranked in feature_candidates(texts, embedder, k, seed=seed, strategy=strategy)]


def feature_candidates(
    texts: Sequence[str], embedder: Embedder, k: int, *, per_cluster: int = 3, seed: int = 0,
    strategy: str = "cluster",
) -> list[list[str]]:
    """Per cluster, up to `per_cluster` distinct real sentences by distance to its centre, so a
    step that fails on the nearest one can fall back to the next."""
    sentences = sentences_of(texts)
    k = min(k, len(sentences))
    if k == 0:
        return []
    if strategy == "random":
        order = np.random.default_rng(seed).permutation(len(sentences))
        return [[sentences[i] for i in order[c::k][:per_cluster]] for c in range(k)]
    if strategy != "cluster":
        raise ValueError(f"unknown feature strategy {strategy!r}: use 'cluster' or 'random'")
    vectors = embedder.embed(sentences)
    from sklearn.cluster import KMeans  # here, not at import: only a library build clusters

    kmeans = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit(vectors)
    taken: set[int] = set()
    ranked_clusters = []
    for centre in kmeans.cluster_centers_:
        nearest = [int(i) for i in np.argsort(np.linalg.norm(vectors - centre, axis=1)) if int(i) not in taken]
        ranked = nearest[:per_cluster]  # distinct across clusters even if clusters tie
        taken.update(ranked[:1])
        ranked_clusters.append(ranked)
    ranked_clusters.sort(key=lambda ranked: ranked[0])
    return [[sentences[i] for i in ranked] for ranked in ranked_clusters]
