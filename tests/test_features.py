"""Feature sentences: real sentences nearest the cluster centres."""

from __future__ import annotations

import pytest

from reversener.embeddings import SentenceTransformerEmbedder
from reversener.features import select_feature_sentences, sentences_of

from .scripted_llm import FakeEmbedder

SPORT = ["The striker scored twice in the second half.", "The keeper saved a late penalty kick.",
         "The home side scored in the second half again."]
MONEY = ["Shares of the bank fell three percent on Friday.", "The bank reported higher quarterly profit.",
         "Bond yields fell as the bank cut rates."]


def test_sentences_are_split_deduplicated_and_fragments_dropped():
    texts = ["The striker scored twice. Thanks ! The striker scored twice.", "Another full sentence here."]
    assert sentences_of(texts) == ["Another full sentence here.", "The striker scored twice."]


def test_the_order_of_the_texts_does_not_change_the_feature_sentences():
    texts = SPORT + MONEY
    picked = select_feature_sentences(texts, FakeEmbedder(), k=3)
    assert picked == select_feature_sentences(texts[::-1], FakeEmbedder(), k=3)
    assert picked == select_feature_sentences(texts[3:] + texts[:3], FakeEmbedder(), k=3, strategy="cluster")


def test_k_is_capped_by_the_number_of_sentences():
    picked = select_feature_sentences(SPORT, FakeEmbedder(), k=10)
    assert sorted(picked) == sorted(SPORT)


def test_no_texts_give_no_features():
    assert select_feature_sentences([], FakeEmbedder(), k=4) == []


def test_random_strategy_is_seeded_and_unknown_strategy_fails():
    texts = SPORT + MONEY
    first = select_feature_sentences(texts, FakeEmbedder(), k=3, strategy="random", seed=1)
    assert first == select_feature_sentences(texts, FakeEmbedder(), k=3, strategy="random", seed=1)
    with pytest.raises(ValueError, match="unknown feature strategy"):
        select_feature_sentences(texts, FakeEmbedder(), k=3, strategy="nope")


@pytest.fixture(scope="session")
def minilm():
    return SentenceTransformerEmbedder()


def test_two_topics_give_one_feature_sentence_each_with_the_bundled_model(minilm):
    picked = select_feature_sentences(SPORT + MONEY, minilm, k=2)
    assert len(picked) == 2
    assert sum(p in SPORT for p in picked) == 1 and sum(p in MONEY for p in picked) == 1


def test_bundled_embeddings_are_normalized_and_semantic(minilm):
    vectors = minilm.embed(["A cat sat on the mat.", "A kitten sat on the rug.", "Stocks fell sharply."])
    assert vectors.shape == (3, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1) < 1e-4
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
