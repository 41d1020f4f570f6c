"""Texts behind URLs (<Text valueType="url">): read through Label Studio's API with the project's
credentials, never sent to the LLM as the URL itself (label-studio#6612)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from backend.app import create_app
from reversener.devtools.fake_answers import answer

from .test_api import regions

URL_CONFIG = """<View>
  <Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>
  <Text name="text" value="$url" valueType="url"/>
</View>"""
FILES = {"/data/upload/1/a.txt": "Anna met Bob in Oslo.", "/data/upload/1/b.txt": "Maria flew to Rome."}


class FileServer:
    """Label Studio's file routes: serves FILES to a request carrying the right token."""

    def __init__(self, token: str) -> None:
        self.seen: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.seen.append(self.headers.get("Authorization", ""))
                body = FILES.get(self.path)
                status = 200 if body and self.headers.get("Authorization") == f"Token {token}" else 404
                data = (body or "not found").encode()
                self.send_response(status if body else 404)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def files():
    server = FileServer("file-token")
    yield server
    server.close()


def _body(urls):
    return {"project": "5.1", "label_config": URL_CONFIG,
            "tasks": [{"id": i, "data": {"url": url}} for i, url in enumerate(urls)]}


def test_a_text_behind_a_url_is_read_with_the_project_credentials(services_for, files):
    services = services_for(answer, label_studio_url=files.url, label_studio_api_key="file-token")
    client = create_app(services).test_client()
    results = client.post("/predict", json=_body(list(FILES))).get_json()["results"]
    assert regions(results[0]) == {("Anna", "PER"), ("Bob", "PER"), ("Oslo", "LOC")}
    assert [r["value"]["start"] for r in results[1]["result"]] == [0, 14]  # offsets into the text read
    assert files.seen and set(files.seen) == {"Token file-token"}
    prompts = [r["messages"][-1]["content"] for r in services.llm_server.requests]
    assert not any("/data/upload" in p for p in prompts)


def test_without_credentials_a_url_task_gets_no_prediction_and_says_why(services_for, caplog):
    services = services_for(answer)
    results = create_app(services).test_client().post("/predict", json=_body(["/data/upload/1/a.txt"])).get_json()
    assert results["results"] == [[]]
    assert any("valueType=url" in r.message and "LABEL_STUDIO_URL" in r.message for r in caplog.records)
    assert not any("/data/upload" in str(r["messages"]) for r in services.llm_server.requests)


def test_a_correction_on_a_url_task_learns_the_text_behind_it(services_for, files):
    services = services_for(answer, label_studio_url=files.url, label_studio_api_key="file-token")
    client = create_app(services).test_client()
    event = {"action": "ANNOTATION_CREATED", "project": {"id": 5, "label_config": URL_CONFIG},
             "task": {"id": 1, "data": {"url": "/data/upload/1/b.txt"}},
             "annotation": {"id": 77, "result": [{"from_name": "label", "to_name": "text", "type": "labels",
                                                  "value": {"start": 0, "end": 5, "labels": ["PER"]}}]}}
    assert client.post("/webhook", json=event).status_code == 201
    services.jobs.drain()
    [human] = services.store.human_examples("5")
    assert human.text == "Maria flew to Rome." and human.text[0:5] == "Maria"
