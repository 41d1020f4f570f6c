"""The document benchmark end to end on three tiny documents, with the rule-based fake LLM over HTTP."""

from __future__ import annotations

import json
import re

import pytest

from benchmarks import documents, report
from benchmarks.common import DATASETS
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from reversener.readers import read_conll_documents

from .shared_data import needs_shared

# Documents of 6, 4 and 3 sentences; the fake LLM knows Bob, Anna, Oslo and Berlin, not Zorblat Qu.
SENTENCES = {
    "bob": ["Bob B-PER", "met O", "Anna B-PER", "in O", "Oslo B-LOC", "on O", "day O"],
    "zorblat": ["Zorblat B-PER", "Qu I-PER", "flew O", "to O", "Berlin B-LOC", "on O", "day O"],
}
SIZES = (("bob", 6), ("zorblat", 4), ("bob", 3))


def _conll() -> str:
    docs = ["".join("\n".join(SENTENCES[kind] + [f"{n} O", ". O"]) + "\n\n" for n in range(size))
            for kind, size in SIZES]
    return "-DOCSTART- O\n\n" + "-DOCSTART- O\n\n".join(docs)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    conll = tmp_path / "tiny.conll"
    conll.write_text(_conll(), "utf-8")
    monkeypatch.setitem(DATASETS, "tiny", conll)
    for module in (documents, report):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(report, "DOC", tmp_path / "benchmarks.md")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_API_KEY", "sk-test")
    with FakeOpenAIServer(answer) as server:
        yield server, tmp_path


def _run(server, **options) -> dict:
    documents.run("tiny", documents=3, llm_model="openai/fake", llm_api_base=server.api_base, **options)
    unit = options.get("unit", "document")
    return json.loads(documents.result_path("tiny", unit).read_text())


def _recognitions(server) -> int:
    return sum(body["messages"][-1]["content"].startswith("Text: ") for body in server.requests)


def test_tasks_are_documents_or_even_paragraphs_with_exact_offsets(tiny):
    read = read_conll_documents(DATASETS["tiny"])
    for unit, counts in (("document", [6, 4, 3]), ("paragraph", [2, 2, 2, 2, 2, 2, 1])):
        tasks = documents.tasks_of(read, unit, 2)
        assert [t.text.count(" . ") + 1 for t in tasks] == counts  # sentences per task
        named = [t.text[s.start : s.end] for t in tasks for s in t.spans]
        assert named == [n for d in read for sentence in d for n in
                         (sentence.text[s.start : s.end] for s in sentence.spans)]


@needs_shared
def test_every_run_gives_two_rows_and_packing_costs_fewer_calls_at_equal_f1(tiny):
    server, tmp_path = tiny
    results = _run(server)
    rows = results["rows"]
    runs = ["zero-shot · sentences", "zero-shot · packed 1000", "default · sentences", "default · packed 1000"]
    assert set(rows) == {name + suffix for name in runs for suffix in ("", documents.AS_ANSWERED)}
    assert results["tasks"] == 3 and results["gold_entities"] == 9 * 3 + 4 * 2
    zero, packed = rows["zero-shot · sentences"], rows["zero-shot · packed 1000"]
    assert zero["cost"]["calls_per_task"] == pytest.approx(13 / 3) and packed["cost"]["calls_per_task"] == 1
    assert rows["default · packed 1000"]["cost"]["calls_per_task"] == 2  # with demonstrations, and zero-shot
    assert zero["chunks_per_task"] == pytest.approx(13 / 3) and packed["chunks_per_task"] == 1
    assert zero["recall"] == packed["recall"] == pytest.approx(31 / 35)  # all but Zorblat Qu
    assert zero["per_type_f1"]["LOC"] == 1.0 and len(zero["sentence_counts"]) == 3  # one count per task
    assert "library" in results and results["build"]["planned"] > 0
    assert rows["default · sentences"]["build"] == results["build"] and zero["build"] is None
    asked = len(server.requests)
    _run(server)
    assert len(server.requests) == asked  # finished runs are kept
    report.main()
    doc = (tmp_path / "benchmarks.md").read_text()
    assert "### tiny: 3 documents (seeded sample, seed 0), 144 characters and 11.7 gold entities per task" in doc
    assert re.search(r"- zero-shot · packed 1000 − sentences: \*\*\+0\.0 \(\+0\.0 to \+0\.0\)\*\* \(per type: "
                     r"LOC \+0\.0 \(\+0\.0 to \+0\.0\), PER \+0\.0", doc)
    assert "default · packed 1000 − default · sentences, as answered (before packing and reconciling)" in doc


def test_a_stopped_run_resumes_where_it_stopped_without_asking_again(tiny, monkeypatch):
    server, _ = tiny
    monkeypatch.setenv("LLM_CACHE", "false")  # only the record can say what was done
    monkeypatch.setattr(documents, "SLICE", 1)
    write, saves = documents.write_json, []

    def stopping(path, data):
        write(path, data)
        saves.append(data["runs"]["zero-shot · sentences"]["done"])
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(documents, "write_json", stopping)
    with pytest.raises(KeyboardInterrupt):
        _run(server, runs="zero-shot · sentences")
    assert saves == [1, 2] and _recognitions(server) == 6 + 4
    saves.append("resumed")
    resumed = _run(server, runs="zero-shot · sentences")
    assert _recognitions(server) == 6 + 4 + 3  # only the third document was asked
    row = resumed["rows"]["zero-shot · sentences"]
    assert row["recall"] == pytest.approx(31 / 35) and row["cost"]["calls_per_task"] == pytest.approx(13 / 3)


def test_paragraph_tasks_and_bad_options(tiny):
    server, _ = tiny
    runs = "zero-shot · sentences,zero-shot · packed 1000"
    results = _run(server, unit="paragraph", paragraph_sentences=2, runs=runs)
    assert results["tasks"] == 7 and results["rows"]["zero-shot · packed 1000"]["cost"]["calls_per_task"] == 1
    with pytest.raises(Exception, match="another sample"):
        _run(server, unit="paragraph", paragraph_sentences=3, runs="zero-shot · sentences")
    with pytest.raises(Exception, match="unknown runs"):
        _run(server, runs="zero-shot · nope")
    with pytest.raises(Exception, match="at least 100"):
        _run(server, budgets="50")
    with pytest.raises(Exception, match="unknown unit"):
        _run(server, unit="chapter")
