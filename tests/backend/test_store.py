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


def test_corrections_read_back_with_their_votes_and_scores_and_those_stored_before_votes_were_kept(redis_client):
    import json
    import uuid

    import numpy as np

    from reversener.library import example_to_dict
    from reversener.thresholds import Scored
    from reversener.types import Example, Span

    store = LibraryStore(redis_client, f"t-{uuid.uuid4().hex[:6]}")
    example = Example("ann-1@label", "Anna lives in Paris.", (Span(0, 4, "PER"), Span(14, 19, "LOC")), "human")
    scored = Scored((("PER", 0.9, True), ("PER", 0.3, False)), {"PER": 1, "LOC": 1})
    assert store.upsert_human("1", example.id, [(example, np.ones(3))], {"Paris": "LOC", "May": ""}, 1.0,
                              scored=scored)
    old = example_to_dict(Example("ann-2@label", "Bo saw Rome.", (Span(7, 11, "LOC"),), "human"), np.ones(3))
    redis_client.hset(store.key("1", "human"), "ann-2@label", json.dumps(old))  # one example, as first stored
    read = sorted(store.corrections("1"), key=lambda c: len(c.votes))
    assert [(c.votes, c.scored) for c in read] == [({"Rome": "LOC"}, None), ({"Paris": "LOC", "May": ""}, scored)]
