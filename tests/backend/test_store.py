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
