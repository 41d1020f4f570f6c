"""A small client of the Label Studio REST API: page through a project's tasks, post predictions."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx

from reversener.errors import ReverseNERError

__all__ = ["LabelStudioClient", "LabelStudioError"]

log = logging.getLogger(__name__)


class LabelStudioError(ReverseNERError):
    """Label Studio could not be reached or refused a request."""


class LabelStudioClient:
    """Authenticates with a legacy token, or a personal access (refresh) token exchanged for a JWT."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._http.headers["Authorization"] = self._authorization(token)

    def _authorization(self, token: str) -> str:
        if token.count(".") != 2:  # not a JWT: a legacy API token
            return f"Token {token}"
        response = self._http.post("/api/token/refresh", json={"refresh": token})
        if response.status_code != 200:
            raise LabelStudioError(f"Label Studio refused the personal access token: HTTP {response.status_code}")
        return f"Bearer {response.json()['access']}"

    def iter_tasks(self, project: str, page_size: int = 100) -> Iterator[dict]:
        """Every task of the project, a page at a time."""
        page = 1
        while True:
            response = self._get("/api/tasks", params={"project": project, "page": page, "page_size": page_size})
            if response.status_code == 404:  # past the last page
                return
            tasks = response.json().get("tasks", [])
            yield from tasks
            if len(tasks) < page_size:
                return
            page += 1

    def project(self, project: str) -> dict:
        return self._get(f"/api/projects/{project}").json()

    def count_tasks(self, project: str) -> int:
        return int(self.project(project).get("task_number") or 0)

    def create_prediction(self, task_id: int, prediction: dict) -> None:
        response = self._http.post("/api/predictions", json={"task": task_id, **prediction})
        if response.status_code >= 300:
            raise LabelStudioError(f"posting a prediction for task {task_id} failed: HTTP {response.status_code}")

    def _get(self, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._http.get(path, **kwargs)
        except httpx.HTTPError as err:
            raise LabelStudioError(f"cannot reach Label Studio at {self.url}: {err}") from err
        if response.status_code >= 400 and response.status_code != 404:
            raise LabelStudioError(f"GET {path} failed: HTTP {response.status_code}")
        return response
