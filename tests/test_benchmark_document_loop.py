"""The documents-in-order loop end to end on three tiny documents, with the rule-based fake LLM over HTTP."""

from __future__ import annotations

import json

import pytest

from benchmarks import document_loop, documents, learning_curve, report
from benchmarks.common import DATASETS
from reversener.devtools.fake_answers import answer
from reversener.devtools.fake_openai import FakeOpenAIServer
from reversener.readers import read_conll_documents

# The fake LLM knows Bob and Anna and Oslo, not Zorblat Qu or Vexmoor until it sees them labeled.
SENTENCES = {
    "zorblat": ["Zorblat B-PER", "Qu I-PER", "met O", "Bob B-PER", "in O", "Vexmoor B-LOC", "on O", "day O"],
    "bob": ["Bob B-PER", "met O", "Anna B-PER", "in O", "Oslo B-LOC", "on O", "day O"],
}
SIZES = (("zorblat", 4), ("bob", 2), ("zorblat", 4))  # two paragraphs, one, two


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    docs = ["".join("\n".join(SENTENCES[kind] + [f"{n} O", ". O"]) + "\n\n" for n in range(size))
            for kind, size in SIZES]
    conll = tmp_path / "tiny.conll"
    conll.write_text("-DOCSTART- O\n\n" + "-DOCSTART- O\n\n".join(docs), "utf-8")
    monkeypatch.setitem(DATASETS, "tiny", conll)
    for module in (documents, document_loop, report):
        monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_API_KEY", "sk-test")
    with FakeOpenAIServer(answer) as server:
        yield server


def _loop(server) -> dict:
    document_loop.run("tiny", documents=3, paragraph_sentences=2, llm_model="openai/fake",
                      llm_api_base=server.api_base)
    return json.loads(document_loop.result_path("tiny").read_text())


class _Posts(list):
    """(path, project) of each request the loop sent the backend; with `stop_after` set, a
    KeyboardInterrupt instead of the request that would make that many."""

    stop_after = -1


@pytest.fixture
def posts(monkeypatch) -> _Posts:
    post, sent = learning_curve._post, _Posts()

    def recording(client, path, body):
        project = body["project"]["id"] if path == "/webhook" else int(body["project"].split(".")[0])
        if len(sent) + 1 == sent.stop_after:
            raise KeyboardInterrupt
        sent.append((path, project))
        return post(client, path, body)

    monkeypatch.setattr(learning_curve, "_post", recording)
    return sent


def test_paragraphs_come_in_corpus_order_with_their_document(tiny):
    tasks = document_loop.tasks_in_order(read_conll_documents(DATASETS["tiny"]), 2)
    assert [d for d, _ in tasks] == [0, 0, 1, 2, 2]
    assert all(t.text.count(" . ") == 1 for _, t in tasks)  # two sentences each


def test_each_paragraph_is_served_scored_then_corrected_and_later_ones_gain(tiny, posts):
    results = _loop(tiny)
    # Per task: the control's pre-annotation, the loop's, then the loop's correction; the control learns nothing.
    assert posts == [("/predict", 2), ("/predict", 1), ("/webhook", 1)] * 5
    tasks = results["tasks"]
    assert tasks[0]["loop"] == tasks[0]["control"]  # nothing was corrected before the first
    assert tasks[1]["loop"] != tasks[1]["control"]  # the same document's first paragraph was
    groups = results["groups"]
    assert groups["all"]["tasks"] == 5 and groups["first paragraph"]["tasks"] == 3
    later = groups["later paragraphs"]
    assert later["control"]["recall"] == pytest.approx(1 / 3)  # Bob only
    assert later["loop"]["f1"] == 1.0
    assert groups["all"]["loop"]["f1"] > groups["all"]["control"]["f1"]
    assert results["acted"]["memory_regions"] > 0  # the memory of names labeled Zorblat Qu and Vexmoor
    assert results["failed"] == [0, 0]
    section = "\n".join(report.document_loop_section())
    assert "| later paragraphs | 2 | 12 | 0.500 | **1.000** | +50.0" in section


def test_a_stopped_loop_resumes_correcting_again_what_it_had_corrected(tiny, posts):
    whole = _loop(tiny)
    document_loop.result_path("tiny").unlink()
    posts.clear()
    posts.stop_after = 7  # the second task's correction is the 6th request, so two tasks are done
    with pytest.raises(KeyboardInterrupt):
        _loop(tiny)
    assert len(json.loads(document_loop.result_path("tiny").read_text())["tasks"]) == 2
    posts.clear()
    posts.stop_after = -1
    resumed = _loop(tiny)
    # The two done tasks are pre-annotated and corrected again (the LLM's answers come from its cache), then
    # the three left are run.
    assert posts[:4] == [("/predict", 1), ("/webhook", 1)] * 2
    assert posts[4:] == [("/predict", 2), ("/predict", 1), ("/webhook", 1)] * 3
    assert [t["loop"] for t in resumed["tasks"]] == [t["loop"] for t in whole["tasks"]]
    assert resumed["groups"] == whole["groups"]


def test_the_loop_starts_from_the_documents_benchmarks_library_of_the_same_documents(tiny):
    documents.run("tiny", documents=3, runs="default · sentences", llm_model="openai/fake",
                  llm_api_base=tiny.api_base)
    built = json.loads(documents.result_path("tiny").read_text())["library"]
    assert _loop(tiny)["library"] == built


def test_a_setting_changed_for_an_ablation_reaches_the_backend_and_goes_to_its_own_file(tiny):
    document_loop.run("tiny", documents=3, paragraph_sentences=2, llm_model="openai/fake",
                      llm_api_base=tiny.api_base, setting=["name_memory=false"])
    ablated = json.loads(document_loop.result_path("tiny", {"name_memory": "false"}).read_text())
    assert not document_loop.result_path("tiny").exists()
    assert ablated["acted"]["memory_regions"] == 0  # the corrections still teach, as demonstrations
    assert ablated["groups"]["later paragraphs"]["loop"]["f1"] == 1.0
    assert "- `name_memory=false`: loop F1" in "\n".join(report.document_loop_section())
