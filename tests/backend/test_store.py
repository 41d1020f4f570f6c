"""The store's contract with its Redis client."""

from __future__ import annotations

import pytest
from redis import Redis

from backend.store import LibraryStore


def test_a_client_that_decodes_replies_is_refused_at_once():
    """The store reads bytes, as RQ does: a decoding client would fail later, in the middle of a request."""
    with pytest.raises(ValueError, match="decode_responses=False"):
        LibraryStore(Redis(decode_responses=True))  # no connection is made
    LibraryStore(Redis())


def test_a_served_prediction_comes_back_with_its_answer_and_one_kept_before_without(redis_client):
    import json
    import uuid

    store = LibraryStore(redis_client, f"t-{uuid.uuid4().hex[:6]}")
    served, answer = {"result": [{"id": "a"}], "model_version": "v.n1"}, {"result": [{"id": "a"}, {"id": "b"}]}
    store.save_served("1", "k", served, answer, ttl=60, keep="v")
    assert store.served("1", "k") == (served, answer)
    assert store.predictions("1", "v", ["k"]) == [answer]  # the fresh answer kept for later requests
    store.save_served("1", "k2", served, answer, ttl=60)  # a kept answer served again is not kept twice
    assert store.predictions("1", "v", ["k2"]) == [None]
    redis_client.set(store.key("1", "served", "old"), json.dumps(served))  # as an earlier version stored it
    assert store.served("1", "old") == (served, None)
    assert store.served("1", "none") == (None, None)
