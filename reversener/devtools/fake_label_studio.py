"""The few routes of Label Studio's REST API that `reversener prelabel` uses, on loopback, for tests
and the scale-out benchmark: one project's tasks, paged as Label Studio 1.23 pages them, and every
prediction posted to it, so a test can tell that each task got exactly one."""

from __future__ import annotations

import threading
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

from .loopback import JSONHandler, LoopbackServer

__all__ = ["FakeLabelStudio"]


class FakeLabelStudio(LoopbackServer):
    """Project `project` holds one task per text; `posted[task_id]` lists the predictions posted."""

    TOKEN = "fake-token"

    def __init__(self, label_config: str, texts: list[str], *, project: str = "1", token: str = TOKEN) -> None:
        self.label_config, self.project, self.token = label_config, str(project), token
        self.tasks = [{"id": i + 1, "data": {"text": text}} for i, text in enumerate(texts)]
        self.posted: dict[int, list[dict]] = defaultdict(list)
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def predictions(self) -> int:
        with self._lock:
            return sum(len(p) for p in self.posted.values())

    def _task(self, task: dict) -> dict:
        versions = ",".join(p["model_version"] for p in self.posted.get(task["id"], []))
        return {**task, "predictions_model_versions": versions}

    def _answer(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict]:
        if method == "GET" and path == f"/api/projects/{self.project}":
            return 200, {"id": int(self.project), "label_config": self.label_config, "task_number": len(self.tasks)}
        if method == "GET" and path == "/api/tasks" and query.get("project") == self.project:
            page, size = int(query.get("page", 1)), int(query.get("page_size", 100))
            if page < 1 or (page - 1) * size >= max(len(self.tasks), 1):
                return 404, {"detail": "Invalid page."}  # Label Studio's answer past the last page
            with self._lock:
                tasks = [self._task(t) for t in self.tasks[(page - 1) * size : page * size]]
            return 200, {"tasks": tasks, "total": len(self.tasks)}
        if method == "POST" and path == "/api/predictions":
            task = int(body["task"])
            if not 1 <= task <= len(self.tasks):
                return 400, {"task": ["Invalid pk"]}
            with self._lock:
                self.posted[task].append(body)
            return 201, {"id": task, **body}
        return 404, {"detail": "Not found."}

    def _handler(self):
        fake = self

        class Handler(JSONHandler):
            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                body = self.read_json()
                if self.headers.get("Authorization") != f"Token {fake.token}":
                    self.send_json(401, {"detail": "Authentication credentials were not provided."})
                    return
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                self.send_json(*fake._answer(method, url.path.rstrip("/"), query, body))

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        return Handler
