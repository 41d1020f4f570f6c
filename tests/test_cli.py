"""The `reversener` command end to end, through litellm to a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reversener.cli import app
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer, Reply
from reversener.library import ExampleLibrary
from reversener.readers import read_conll

DATA = Path(__file__).parent / "data"
runner = CliRunner()


@pytest.fixture
def llm_server(monkeypatch, tmp_path):
    with FakeOpenAIServer(answer) as server:
        monkeypatch.setenv("LLM_MODEL", "openai/fake")
        monkeypatch.setenv("LLM_API_BASE", server.api_base)
        monkeypatch.setenv("LLM_API_KEY", "sk-test")
        monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("FEATURE_SENTENCES", "3")
        yield server


def _invoke(*args: str):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_annotate_writes_label_studio_tasks_with_predictions(llm_server, tmp_path):
    out = tmp_path / "predictions.json"
    _invoke("annotate", DATA / "cli_tasks.json", "-o", out)
    tasks = json.loads(out.read_text())
    assert [t["id"] for t in tasks] == [1, 2, 3, 4] and tasks[0]["meta"] == {"batch": "a"}
    prediction = tasks[0]["predictions"][0]
    assert prediction["model_version"].startswith("reversener-")
    regions = {(r["value"]["text"], r["value"]["labels"][0]) for r in prediction["result"]}
    assert regions == {("Angela Merkel", "PER"), ("Siemens", "ORG"), ("Berlin", "LOC")}
    for task in tasks:
        text = task["data"]["text"]
        for region in task["predictions"][0]["result"]:
            value = region["value"]
            assert text[value["start"] : value["end"]] == value["text"]
            assert region["from_name"] == "label" and region["to_name"] == "text" and region["type"] == "labels"


def test_annotate_scores_come_from_the_llms_token_probabilities(monkeypatch, tmp_path):
    import math
    import re

    def unsure_of_berlin(body):
        text = answer(body)
        tokens = re.findall(r"\w+|\s+|[^\w\s]", text)
        return Reply([text], logprobs=[[(t, -0.9 if t == "Berlin" else 0.0) for t in tokens]])

    with FakeOpenAIServer(unsure_of_berlin) as server:
        for name, value in {"LLM_MODEL": "openai/fake", "LLM_API_BASE": server.api_base, "LLM_API_KEY": "sk-test",
                            "DATA_DIR": str(tmp_path / "data")}.items():
            monkeypatch.setenv(name, value)
        _invoke("annotate", DATA / "cli_tasks.json", "-o", tmp_path / "out.json", "--zero-shot")
    prediction = json.loads((tmp_path / "out.json").read_text())[0]["predictions"][0]
    assert {r["value"]["text"]: r["score"] for r in prediction["result"]} == {
        "Angela Merkel": 1.0, "Siemens": 1.0, "Berlin": round(math.exp(-0.9), 4)}
    # the answer's, times its least sure region's
    assert prediction["score"] == round(math.exp(-0.9) * math.exp(-0.9), 4)


def test_the_command_exits_without_tracebacks_once_its_llm_session_was_used(llm_server, tmp_path):
    # A separate process: what it prints while the interpreter shuts down is what a user sees last.
    command = [sys.executable, "-c", "from reversener.cli import run; run()",
               "annotate", str(DATA / "cli_tasks.json"), "-o", str(tmp_path / "out.json"), "--zero-shot"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "4 of 4 tasks predicted" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_annotate_zero_shot_makes_no_library(llm_server, tmp_path):
    out = tmp_path / "zs.json"
    _invoke("annotate", DATA / "cli_tasks.json", "-o", out, "--zero-shot")
    tasks = json.loads(out.read_text())
    assert tasks[2]["predictions"][0]["model_version"] == "zero-shot"
    assert not any(body["messages"][-1]["content"].startswith("Rewrite") for body in llm_server.requests)


def test_a_second_run_is_served_from_the_cache(llm_server, tmp_path):
    _invoke("annotate", DATA / "cli_tasks.json", "-o", tmp_path / "a.json")
    calls = len(llm_server.requests)
    _invoke("annotate", DATA / "cli_tasks.json", "-o", tmp_path / "b.json")
    assert len(llm_server.requests) == calls
    assert json.loads((tmp_path / "a.json").read_text()) == json.loads((tmp_path / "b.json").read_text())


def test_build_show_export_import_a_library(llm_server, tmp_path):
    lib_path = tmp_path / "lib.json"
    _invoke("build-library", DATA / "cli_tasks.json", "-o", lib_path)
    library = ExampleLibrary.load(lib_path)
    assert len(library) > 0 and library.counts() == {"synthetic": len(library)}
    shown = _invoke("library", "show", lib_path)
    assert library.version in shown.output

    exported = tmp_path / "review.json"
    _invoke("library", "export", lib_path, "-o", exported)
    review = json.loads(exported.read_text())
    assert len(review) == len(library) and review[0]["annotations"][0]["result"]

    corrected = tmp_path / "corrected.json"
    corrected.write_text(json.dumps([{
        "id": 7, "data": {"text": "Paul Smith joined Acme."},
        "annotations": [{"result": [{"from_name": "label", "to_name": "text", "type": "labels",
                                     "value": {"start": 0, "end": 10, "text": "Paul Smith", "labels": ["PER"]}}]}],
    }]))
    _invoke("library", "import", corrected, "--library", lib_path)
    updated = ExampleLibrary.load(lib_path)
    assert updated.get("human-7").spans[0].label == "PER" and updated.version != library.version


def test_eval_prints_both_modes_and_writes_rows(llm_server, tmp_path):
    out = tmp_path / "rows.json"
    result = _invoke("eval", DATA / "cli_gold.conll", "-o", out)
    rows = json.loads(out.read_text())
    assert [r["mode"] for r in rows] == ["zero-shot", "reversener"]
    assert rows[0]["sentences"] == 3 and rows[0]["f1"] == pytest.approx(1.0)
    assert rows[1]["build"]["kept"] > 0
    assert rows[1]["cost"]["calls_per_sentence"] > rows[0]["cost"]["calls_per_sentence"]
    characters = sum(len(s.text) for s in read_conll(DATA / "cli_gold.conll"))
    zero = rows[0]["cost"]
    per_1k = 1000 * 3 * zero["prompt_tokens_per_sentence"] / characters
    assert zero["prompt_tokens_per_1k_chars"] == pytest.approx(per_1k)
    assert "zero-shot" in result.output and "reversener" in result.output
    assert "per 1,000 characters" in result.output


def test_bad_input_file_is_a_clear_error(llm_server, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[{not json")
    result = runner.invoke(app, ["annotate", str(bad)])
    assert result.exit_code != 0
    assert "bad.json" in str(result.exception) or "bad.json" in result.output


def test_a_missing_input_or_bad_definitions_file_is_a_usage_error(llm_server, tmp_path):
    wide = {"COLUMNS": "400"}  # keep rich from wrapping the message
    missing = runner.invoke(app, ["eval", str(tmp_path / "nope.conll")], env=wide)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    defs = tmp_path / "defs.json"
    defs.write_text('["not", "a", "mapping"]')
    bad = runner.invoke(app, ["annotate", str(DATA / "cli_tasks.json"), "--definitions", str(defs)], env=wide)
    assert bad.exit_code == 2 and "must map each type" in bad.output


@pytest.fixture
def flaky_llm(monkeypatch, tmp_path):
    """An LLM that answers 500 for any text naming Oslo and for every call while `down` is set."""
    state = {"down": False}

    def respond(body):
        down = state["down"] or "Oslo" in body["messages"][-1]["content"]
        return Reply(status=500) if down else answer(body)

    with FakeOpenAIServer(respond) as server:
        for name, value in {"LLM_MODEL": "openai/fake", "LLM_API_BASE": server.api_base, "LLM_API_KEY": "sk-test",
                            "DATA_DIR": str(tmp_path / "data"), "LLM_RETRIES": "0", "LLM_CACHE": "false"}.items():
            monkeypatch.setenv(name, value)
        yield server, state


def test_a_failed_task_gets_no_prediction_and_exit_code_1(flaky_llm, tmp_path):
    out = tmp_path / "p.json"
    wide = {"COLUMNS": "400"}
    result = runner.invoke(app, ["annotate", str(DATA / "cli_tasks.json"), "-o", str(out), "--zero-shot"], env=wide)
    assert result.exit_code == 1
    assert "task 3: no prediction: LLM failed" in result.output and "1 tasks failed" in result.output
    tasks = json.loads(out.read_text())  # the rest is written, nothing is lost
    assert ["predictions" in t for t in tasks] == [True, True, False, True]
    partial = runner.invoke(app, ["annotate", str(DATA / "cli_tasks.json"), "-o", str(out), "--zero-shot",
                                  "--allow-partial"], env=wide)
    assert partial.exit_code == 0 and "3 of 4 tasks predicted" in partial.output


def test_an_llm_down_for_the_whole_run_predicts_nothing_and_says_so(flaky_llm, tmp_path):
    _, state = flaky_llm
    state["down"] = True
    result = runner.invoke(app, ["annotate", str(DATA / "cli_tasks.json"), "-o", str(tmp_path / "p.json")],
                           env={"COLUMNS": "400"})
    assert result.exit_code == 1
    assert "library build:" in result.output and "0 of 4 tasks predicted" in result.output
    assert not any("predictions" in t for t in json.loads((tmp_path / "p.json").read_text()))


def test_an_unwritable_output_fails_before_any_llm_call(llm_server, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = runner.invoke(app, ["annotate", str(DATA / "cli_tasks.json"), "-o", str(blocked / "out.json")],
                           env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "cannot write" in result.output
    assert llm_server.requests == []


def test_a_text_longer_than_max_chunks_says_how_much_was_predicted(llm_server, tmp_path):
    tasks = tmp_path / "long.json"
    tasks.write_text(json.dumps([{"id": 1, "data": {"text": "Bob went home. " * 100}}]))
    result = runner.invoke(app, ["annotate", str(tasks), "-o", str(tmp_path / "p.json"), "--zero-shot"],
                           env={"COLUMNS": "400", "MAX_CHUNKS": "1", "PACK_SENTENCES": "true"})
    assert result.exit_code == 0  # 66 sentences fit the default 1,000 characters: two chunks
    assert "task 1: text too long: predicted its first 1 of 2 chunks (characters 0-990 of 1500)" in result.output


def test_llm_serves_the_local_model_file_as_an_openai_endpoint(monkeypatch, tmp_path):
    from reversener import cli

    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    started = []
    monkeypatch.setenv("LOCAL_MODEL_PATH", str(model))
    monkeypatch.setenv("LOCAL_THREADS", "3")
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: started.append(argv))
    result = runner.invoke(app, ["llm", "--host", "0.0.0.0", "--port", "8123"], catch_exceptions=False)
    assert result.exit_code == 0 and "LLM_MODEL=openai/local" in result.output
    [argv] = started
    assert argv[1:3] == ["-m", "reversener.llm.llama_server"]
    assert {argv[argv.index(flag) + 1] for flag in ("--model", "--host", "--port", "--n_threads")} == {
        str(model), "0.0.0.0", "8123", "3"}


def test_the_command_line_starts_without_importing_litellm_or_scikit_learn():
    # Seconds of imports that neither --help, a worker, nor the direct transport needs.
    import subprocess
    import sys

    code = ("import sys, backend.cli; from typer.testing import CliRunner; "
            "CliRunner().invoke(backend.cli.app, ['--help']); "
            "print(sorted(m for m in ('litellm', 'sklearn', 'torch', 'sentence_transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
