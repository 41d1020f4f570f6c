"""The real thing: the bundled GGUF behind a llama.cpp server, through litellm, end to end.

Slow (the first run assembles a 1.1 GB model file); runs in CI, deselect with -m 'not local_llm'.
"""

from __future__ import annotations

import sys

import pytest

from reversener.builder import build_library
from reversener.config import MethodConfig
from reversener.definitions import resolve_types
from reversener.llm.local import ensure_bundled_model
from reversener.recognizer import Recognizer
from reversener.runtime import Runtime
from reversener.settings import Settings

pytestmark = [pytest.mark.local_llm, pytest.mark.timeout(900)]

TEXT = "Angela Merkel met the chief executive of Siemens in Berlin on Monday."


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    # Its own data dir, so it starts (and owns) a server rather than reusing one already running;
    # the assembled model comes from the shared cache so it is built once per machine.
    model = ensure_bundled_model(Settings().data_dir)
    settings = Settings(llm_model=None, llm_cache=False, feature_sentences=1, entities_per_type=3,
                        examples_per_feature=1, data_dir=tmp_path_factory.mktemp("local-llm"),
                        local_model_path=model)
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


def test_bundled_model_annotates_a_sentence_with_reversener(runtime):
    types = resolve_types(["PER", "ORG", "LOC"])
    config: MethodConfig = runtime.settings.method()
    library, report = build_library([TEXT], types, runtime.llm, runtime.embedder, config)
    assert sum(len(v) for v in report.entities.values()) > 0
    recognizer = Recognizer(runtime.llm, runtime.embedder, types, library, config)
    [found] = recognizer.recognize([TEXT])
    surfaces = {(TEXT[s.start : s.end], s.label) for s in found.spans}
    assert ("Angela Merkel", "PER") in surfaces or ("Berlin", "LOC") in surfaces, surfaces
    assert all(TEXT[s.start : s.end].strip() == TEXT[s.start : s.end] for s in found.spans)
    # Scores come from the server's token log-probabilities: real probabilities, not constants.
    assert found.score is not None and 0 < found.score <= 1
    assert all(s.score is not None and found.score <= s.score <= 1 for s in found.spans)
    stats = runtime.llm.stats.snapshot()
    assert stats["calls"] >= 3 and stats["completion_tokens"] > 0 and stats["failures"] == 0


def test_the_server_stops_with_its_owner(runtime):
    assert runtime.llm.model.startswith("local/")  # the bundled server, started by the test above or now
    process = runtime.local_server._process
    assert process is not None and process.poll() is None
    runtime.local_server.stop()
    assert process.poll() is not None


# --- the model server takes exactly the host and port it is given (issue: PORT or HOST in the env) ---

def _listening(pid: int) -> set[tuple[str, int]]:
    """The (address, port) pairs a process listens on."""
    import psutil

    return {(c.laddr.ip, c.laddr.port) for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN}


def test_serve_with_port_and_host_in_the_env_keeps_the_model_server_on_its_own_loopback_port(tmp_path):
    import json

    import httpx

    from reversener.devtools.stack import start, stop, wait_until_up
    from reversener.llm.local import free_port

    from .backend.test_api import payload

    port = free_port()
    env = {"PORT": str(port), "HOST": "0.0.0.0", "DATA_DIR": str(tmp_path), "LLM_MODEL": "",
           "LOCAL_MODEL_PATH": str(ensure_bundled_model(Settings().data_dir)), "LLM_CACHE": "false",
           "LABEL_STUDIO_URL": "", "LABEL_STUDIO_API_KEY": "", "PREDICT_DEADLINE": "0"}
    process = start([sys.executable, "-m", "backend", "serve"], env, tmp_path / "backend.log")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", 300, process)
        body = payload("predict")
        body["tasks"] = body["tasks"][:1]
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json=body, timeout=240).json()
        assert len(answer["results"]) == 1 and answer["results"][0]["result"], answer
        state = json.loads((tmp_path / "llama-server.json").read_text())
        assert state["port"] != port
        assert _listening(state["pid"]) == {("127.0.0.1", state["port"])}  # not 0.0.0.0, not the backend's port
    finally:
        stop(process)


def test_llm_serves_on_the_port_it_is_given_whatever_port_and_host_the_env_holds(tmp_path):
    import httpx

    from reversener.devtools.stack import start, stop, wait_until_up
    from reversener.llm.local import free_port

    given, other = free_port(), free_port()
    env = {"PORT": str(other), "HOST": "0.0.0.0", "API_KEY": "would-lock-it", "DATA_DIR": str(tmp_path),
           "LOCAL_MODEL_PATH": str(ensure_bundled_model(Settings().data_dir))}
    process = start([sys.executable, "-m", "backend", "llm", "--port", str(given)], env, tmp_path / "llm.log")
    try:
        wait_until_up(f"http://127.0.0.1:{given}/v1/models", 300, process)
        assert httpx.get(f"http://127.0.0.1:{given}/v1/models", timeout=5).status_code == 200  # no API key asked
        assert _listening(process.pid) == {("127.0.0.1", given)}
    finally:
        stop(process)
