"""The benchmarks run end to end on small inputs with a fake LLM: their loops, caches and files.

They measure nothing here (speed is measured by running them, never in a test); this checks that
each entry point works and that the learning curve really carries corrections into predictions.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import typer

from backend.label_config import parse_label_config
from benchmarks import learning_curve, memory, quality, report, selective
from benchmarks.common import DATASETS
from reversener.definitions import resolve_types
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from reversener.labelstudio import spans_from_results
from reversener.readers import read_conll

from .backend.conftest import ROOT
from .shared_data import needs_shared

# Every sentence names a person and a place the fake LLM does not know until it sees them labeled.
LINES = ["Zorblat B-PER", "Qu I-PER", "met O", "Bob B-PER", "in O", "Vexmoor B-LOC", "on O", "day O"]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    conll = tmp_path / "tiny.conll"
    conll.write_text("".join("\n".join(LINES + [f"{n} O", ". O"]) + "\n\n" for n in range(12)), "utf-8")
    monkeypatch.setitem(DATASETS, "tiny", conll)
    monkeypatch.setattr(quality, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(learning_curve, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(memory, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(selective, "RESULTS", tmp_path / "results")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_API_KEY", "sk-test")
    with FakeOpenAIServer(answer) as server:
        yield server, tmp_path / "results"


def test_quality_rows_are_written_and_a_rerun_asks_the_llm_nothing(tiny):
    server, results = tiny
    quality.run("tiny", rows="zero-shot,reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    written = json.loads((results / "quality-tiny-4.json").read_text())
    assert written["sample"] == 4 and written["gold_entities"] == 12
    rows = written["rows"]
    assert set(rows) == {"zero-shot", "reversener"}
    assert rows["zero-shot"]["recall"] == pytest.approx(1 / 3)  # the fake knows Bob, not Zorblat Qu or Vexmoor
    assert rows["reversener"]["build"]["planned"] > 0  # kept: none, the fake leaves "Zorblat Qu" in its templates
    assert (results / "quality-4.png").stat().st_size > 0
    assert len(rows["reversener"]["per_sentence"]["spans"]) == 4 and "library" in rows["reversener"]
    asked = len(server.requests)
    quality.run("tiny", rows="zero-shot", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    assert len(server.requests) == asked
    with pytest.raises(Exception, match="unknown rows"):
        quality.run("tiny", rows="zero-shot,nope", sample=4)


def _curve(server, steps: str = "0,4,8", setting: list[str] | None = None) -> None:
    learning_curve.run("tiny", steps=steps, sample=4, llm_model="openai/fake", llm_api_base=server.api_base,
                       setting=setting)


class _Predicts(list):
    """The tasks of each /predict the learning curve sent; with `stop_after` set, a KeyboardInterrupt
    instead of the next one once that many were sent."""

    stop_after = -1


@pytest.fixture
def predicts(monkeypatch) -> _Predicts:
    post, sent = learning_curve._post, _Predicts()

    def counting(client, path, body):
        if path == "/predict" and body["tasks"][0]["id"] < learning_curve.CORRECTED:  # not a correction's
            if len(sent) == sent.stop_after:
                raise KeyboardInterrupt
            sent.append(len(body["tasks"]))
        return post(client, path, body)

    monkeypatch.setattr(learning_curve, "_post", counting)
    return sent


def test_the_learning_curve_sends_corrections_as_webhooks_and_they_raise_f1(tiny, predicts):
    server, results = tiny
    with pytest.raises(Exception, match="--rows reversener"):  # it starts from that row's library
        _curve(server)
    quality.run("tiny", rows="reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    _curve(server)
    points = json.loads((results / "learning-tiny.json").read_text())["points"]
    assert [p["corrections"] for p in points.values()] == [0, 4, 8]
    assert [p["human_examples"] for p in points.values()] == [0, 4, 8]
    # The fake's templates keep "Zorblat Qu", so the library is empty and the version says so.
    assert points["0"]["model_version"].startswith("zero-shot") and points["0"]["recall"] == pytest.approx(1 / 3)
    assert points["4"]["f1"] == 1.0  # labeled demonstrations of Zorblat Qu and Vexmoor reached the prompt
    gold = [[0, 10, "PER"], [15, 18, "PER"], [22, 29, "LOC"]]  # "Zorblat Qu met Bob in Vexmoor on day n ."
    assert points["4"]["predictions"] == [gold] * 4  # kept per sentence, for error analysis
    # What set regions besides the LLM, counted over each point's sentences: the memory, once it knows names.
    assert points["0"]["acted"] == dict.fromkeys(learning_curve.COUNTERS, 0) and points["0"]["acted_sentences"] == 4
    assert points["8"]["acted"]["memory_regions"] > 0
    assert "8 corrections: memory regions" in "".join(report._acted(list(points.values())))
    assert (results / "learning_curve.png").stat().st_size > 0
    assert predicts == [4, 4, 4]
    _curve(server, "0,4,8,10")  # finished points are kept: only the new one is predicted
    assert predicts == [4, 4, 4, 4]
    assert json.loads((results / "learning-tiny.json").read_text())["points"]["10"]["f1"] == 1.0


def test_the_memory_benchmark_rescores_the_recorded_curve_with_the_names_corrections_taught(tiny, predicts):
    server, results = tiny
    quality.run("tiny", rows="reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    _curve(server)
    with pytest.raises(typer.BadParameter, match="name_memory=false"):
        memory.run("tiny")  # by default the curve made without the memory, and there is none yet
    with pytest.raises(typer.BadParameter, match="without the memory"):  # its predictions hold it already
        memory.run("tiny", curve_file=results / "learning-tiny.json")
    _curve(server, setting=["name_memory=false"])
    calls = len(server.requests)
    memory.run("tiny")
    assert len(server.requests) == calls  # offline: no LLM call
    written = json.loads((results / "memory-tiny.json").read_text())
    assert written["curve"] == str(results / "learning-tiny--name_memory=false.json")
    rows = written["rows"]
    assert list(rows) == ["random 0", "random 4", "random 8", "in order"]
    assert rows["random 0"]["with"]["f1"] == rows["random 0"]["without"]["f1"]
    # Point 0 misses "Zorblat Qu" and "Vexmoor"; every held sentence but the corpus's first comes after a
    # corrected one that labels them, and the memory labels them there.
    assert rows["in order"]["without"]["recall"] == pytest.approx(1 / 3)
    assert rows["in order"]["with"]["recall"] > 0.9 and rows["in order"]["with"]["precision"] == 1.0


def test_each_correction_is_pre_annotated_then_submitted_with_the_origins_the_editor_gives(tiny, monkeypatch):
    server, results = tiny
    quality.run("tiny", rows="reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    post, sent = learning_curve._post, []
    monkeypatch.setattr(learning_curve, "_post", lambda client, path, body: sent.append((path, body))
                        or post(client, path, body))
    _curve(server, "0,2")
    corrections = [(path, body) for path, body in sent if path == "/webhook" or
                   body["tasks"][0]["id"] >= learning_curve.CORRECTED]
    assert [path for path, _ in corrections] == ["/predict", "/webhook"] * 2  # pre-annotated, then corrected
    origins = {r["value"]["text"]: r["origin"] for r in corrections[1][1]["annotation"]["result"]}
    assert origins == {"Zorblat Qu": "manual", "Bob": "prediction", "Vexmoor": "manual"}  # the fake knows Bob


def test_a_stopped_learning_curve_resumes_where_it_stopped(tiny, predicts, monkeypatch):
    server, results = tiny
    quality.run("tiny", rows="reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    _curve(server, "0,4")
    whole = json.loads((results / "learning-tiny.json").read_text())["points"]
    (results / "learning-tiny.json").unlink()
    predicts.clear()
    monkeypatch.setattr(learning_curve, "BATCH", 1)
    predicts.stop_after = 5  # point 0's four sentences, then one of point 4's
    with pytest.raises(KeyboardInterrupt):
        _curve(server, "0,4")
    stopped = json.loads((results / "learning-tiny.json").read_text())["points"]
    assert stopped["0"]["done"] == 4 and stopped["4"]["done"] == 1 and "f1" not in stopped["4"]
    predicts.stop_after = -1
    _curve(server, "0,4")
    assert len(predicts) == 5 + 3  # the resumed run predicted only the three sentences left
    resumed = json.loads((results / "learning-tiny.json").read_text())["points"]
    for step in ("0", "4"):
        kept = ("f1", "predictions", "human_examples", "acted", "acted_sentences")
        assert {k: resumed[step][k] for k in kept} == {k: whole[step][k] for k in kept}


def test_a_sentence_whose_llm_call_fails_counts_as_found_nothing_and_the_curve_goes_on(tiny, monkeypatch):
    from reversener.devtools.fake_openai import Reply
    from reversener.evaluation import pick_sentences

    server, results = tiny
    quality.run("tiny", rows="reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    monkeypatch.setenv("LLM_RETRIES", "0")
    monkeypatch.setenv("LLM_CACHE", "false")  # the quality row asked the same (the fake's library is empty)
    held = pick_sentences(read_conll(DATASETS["tiny"]), sample=4, seed=0)
    failing = held[1].text
    server.responder = lambda body: Reply(status=500) if failing in body["messages"][-1]["content"] else answer(body)
    _curve(server, "0")
    point = json.loads((results / "learning-tiny.json").read_text())["points"]["0"]
    assert point["done"] == 4 and point["failed"] == 1
    assert [p == [] for p in point["predictions"]] == [False, True, False, False]  # the others found Bob


@needs_shared
def test_the_webhook_body_and_label_config_carry_the_gold_exactly(tmp_path):
    gold = read_conll(ROOT.parent / "shared" / "data" / "wikigold" / "wikigold.conll.txt")[:30]
    types = resolve_types(["LOC", "MISC", "ORG", "PER"])
    config = learning_curve.label_config(types | {"PER": 'people, "quoted" & <escaped>'})
    assert parse_label_config(config)[0].types == types | {"PER": 'people, "quoted" & <escaped>'}
    for i, sentence in enumerate(gold):
        body = learning_curve.annotation_created(i, sentence, config)
        assert tuple(spans_from_results(body["task"]["data"]["text"], body["annotation"]["result"], types)) == \
            tuple(sorted(sentence.spans))


def _smoke(benchmark: str, tmp_path) -> dict:
    """Run a benchmark's smoke setting as CI does; its figures."""
    output = tmp_path / f"{benchmark}.json"
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{benchmark}", "--smoke", "--output", str(output)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert output.with_suffix(".png").stat().st_size > 0
    return json.loads(output.read_text())


def test_the_speed_benchmark_smoke_setting_completes_and_writes_its_json(tmp_path):
    figures = _smoke("speed", tmp_path)
    assert [r["tasks"] for r in figures["overhead"]] == [1, 10]
    assert [(r["transport"], r["llm_concurrency"]) for r in figures["throughput"]] == [
        ("litellm", 1), ("litellm", 4), ("direct", 1), ("direct", 4)]
    assert all(r["cpu_ms_per_task"] > 0 and r["scripted_llm_cpu_ms_per_call"] > 0 for r in figures["throughput"])
    assert all(r["before_first_call_ms"] >= 0 and r["calls_ms"] >= 0 for r in figures["throughput"])
    assert all(r["max_llm_calls_in_flight"] == r["llm_concurrency"] for r in figures["throughput"])
    assert all(r["llm_calls"] == 2 * r["tasks"] for r in figures["throughput"])  # with demonstrations, and without
    assert figures["library"]["model_version"].startswith("reversener-")
    assert all(r["llm_calls"] > 0 for r in figures["build_cost"]) and figures["rss_mb_after_load"]["total"] > 0


@needs_shared
@pytest.mark.local_llm
@pytest.mark.timeout(900)
def test_our_llama_server_answers_exactly_as_llama_cpp_pythons_own(tmp_path):
    # The real model on both servers: the patched log-probabilities must change nothing but time.
    output = tmp_path / "llama_logprobs.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.llama_logprobs", "wikigold", "--sentences", "1",
                           "--output", str(output)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert figures["requests"] == figures["same"] == 2 and figures["completion_tokens"] > 0


def test_cost_and_report_are_computed_from_the_rows_alone(tiny, monkeypatch):
    from benchmarks import cost, report

    server, results = tiny
    monkeypatch.setattr(cost, "RESULTS", results)
    monkeypatch.setattr(report, "RESULTS", results)
    monkeypatch.setattr(report, "DOC", results / "benchmarks.md")
    monkeypatch.setattr(report, "DEFAULT_SAMPLE", 4)
    quality.run("tiny", rows="zero-shot,reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    rows = json.loads((results / "quality-tiny-4.json").read_text())["rows"]
    costs = cost.per_sentence("tiny")
    build_calls = rows["reversener"]["build"]["cost"]["calls_per_sentence"]
    inference = rows["reversener"]["cost"]["calls_per_sentence"] - build_calls / 4
    assert costs["reversener"]["per_sentence"]["calls"] == pytest.approx(inference)
    assert costs["self_annotation"]["per_sentence"]["calls"] == pytest.approx(5 * 1.0 + inference)
    measured = rows["reversener"]["cost"]["calls_per_sentence"]
    assert cost.at_size(costs["reversener"], 4)["calls"] == pytest.approx(measured)

    quality.run("tiny", rows="random demos,reversener + SC,zero-shot + SC", sample=4, llm_model="openai/fake",
                llm_api_base=server.api_base)
    learning_curve.run("tiny", steps="0,4", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    cost.main()
    report.main()
    doc = (results / "benchmarks.md").read_text()
    assert "| zero-shot | 1.000 | 0.333 | **0.500** |" in doc
    assert "| random features | not run yet |" in doc and "Not run yet: `.venv/bin/python -m benchmarks.speed`" in doc
    # An ablation is read against the paper's method on the same sentences, with its paired interval.
    assert re.search(r"Each variant − ReverseNER as the paper has it \(.*\): reversener \+ SC [+-]\d+\.\d "
                     r"\([+-]\d+\.\d to [+-]\d+\.\d\), the same library; random demos [+-]\d+\.\d "
                     r"\([+-]\d+\.\d to [+-]\d+\.\d\), the same library\.", doc)
    # Self-consistency: the demonstrations' gain with it on both sides, and what it does to zero-shot.
    assert re.search(r"With self-consistency on both sides \(3 samples\): \*\*[+-]\d+\.\d \(.*\)\*\*; for zero-shot "
                     r"alone, self-consistency − greedy: [+-]\d+\.\d \([+-]\d+\.\d to [+-]\d+\.\d\)\.", doc)
    assert "| tiny | 1,000 | self annotation | 6." in doc
    # The curve against zero-shot on its sentences: point 0 is the empty library, zero-shot itself.
    assert "as the backend answers: F1 0.500; each point − zero-shot: 0: +0.0 (+0.0 to +0.0), 4: +50.0" in doc


def test_rescore_reads_finished_rows_again_from_the_cache_without_llm_calls(tiny):
    server, results = tiny
    quality.run("tiny", rows="zero-shot,reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    path = results / "quality-tiny-4.json"
    written = json.loads(path.read_text())
    for row in written["rows"].values():  # as if an older parser had found nothing
        row["per_sentence"]["spans"] = [[] for _ in row["per_sentence"]["spans"]]
    path.write_text(json.dumps(written))
    asked = len(server.requests)
    quality.run("tiny", rows="zero-shot,reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base,
                rescore=True)
    rows = json.loads(path.read_text())["rows"]
    assert len(server.requests) == asked
    assert all(row["replayed"] == 4 and row["recall"] == pytest.approx(1 / 3) for row in rows.values())


def test_rows_with_the_same_build_settings_share_one_library(tiny):
    server, results = tiny
    quality.run("tiny", rows="reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    built = sum("Replace every name" in body["messages"][-1]["content"] for body in server.requests)
    quality.run("tiny", rows="reversener + zero-shot", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    rows = json.loads((results / "quality-tiny-4.json").read_text())["rows"]
    assert sum("Replace every name" in body["messages"][-1]["content"] for body in server.requests) == built
    assert rows["reversener + zero-shot"]["library"] == rows["reversener"]["library"]


def test_the_default_methods_row_is_composed_from_its_two_rows_without_asking_again(tiny):
    server, results = tiny
    quality.run("tiny", rows="zero-shot,reversener", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    asked = len(server.requests)
    quality.run("tiny", rows="reversener + zero-shot", sample=4, llm_model="openai/fake", llm_api_base=server.api_base)
    rows = json.loads((results / "quality-tiny-4.json").read_text())["rows"]
    assert len(server.requests) == asked
    composed = rows["reversener + zero-shot"]
    assert composed["composed_from"] == ["reversener", "zero-shot"]
    assert composed["cost"]["calls_per_sentence"] == pytest.approx(
        rows["reversener"]["cost"]["calls_per_sentence"] + rows["zero-shot"]["cost"]["calls_per_sentence"])
    assert composed["at_min_score"]["min_score"] == 0.25 and "per_type_counts" in composed["at_min_score"]


def test_the_selective_second_call_is_scored_from_the_recorded_rows_without_asking_again(tiny):
    server, results = tiny
    quality.run("tiny", rows="zero-shot,reversener,reversener + zero-shot", sample=4, llm_model="openai/fake",
                llm_api_base=server.api_base)
    asked = len(server.requests)
    selective.run(sample=4)
    assert len(server.requests) == asked
    policies = json.loads((results / "selective.json").read_text())["sets"]["tiny"]
    rows = json.loads((results / "quality-tiny-4.json").read_text())["rows"]
    assert policies["always (the default)"]["f1"] == rows["reversener + zero-shot"]["at_min_score"]["f1"]
    assert policies["below 0.0"]["f1"] == rows["reversener"]["at_min_score"]["f1"]  # never a second call
    assert policies["below 0.0"]["calls_per_sentence"] == 1.0
    assert all(1.0 <= p["calls_per_sentence"] <= 2.0 for p in policies.values())


def test_the_scaleout_benchmark_smoke_setting_completes_and_writes_its_json(tmp_path):
    figures = _smoke("scaleout", tmp_path)
    assert [r["workers"] for r in figures["rows"]] == [1, 2]
    assert all(r["tasks"] == 48 and r["llm_calls"] == 2 * 48 for r in figures["rows"])
    assert all(0 < r["fraction_of_ideal"] <= 1 for r in figures["rows"])
    assert all(r["worker_cpu_ms_per_task"] > 0 for r in figures["rows"])


def test_check_retrieval_counts_the_sentences_shown_other_demonstrations_than_recorded(tiny, capsys):
    server, results = tiny
    options = {"rows": "reversener", "sample": 4, "llm_model": "openai/fake", "llm_api_base": server.api_base}
    quality.run("tiny", **options)
    quality.run("tiny", check_retrieval=True, **options)
    assert "reversener: 4 of 4 sentences shown the recorded demonstrations in their order" in capsys.readouterr().out
    path = results / "quality-tiny-4.json"
    written = json.loads(path.read_text())
    written["rows"]["reversener"]["per_sentence"]["demonstrations"][0] = ["syn-gone"]  # as if retrieval had changed
    path.write_text(json.dumps(written))
    quality.run("tiny", check_retrieval=True, **options)
    assert "reversener: 3 of 4 sentences shown" in capsys.readouterr().out
