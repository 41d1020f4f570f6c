"""A small client of the Label Studio REST API: page through a project's tasks, post predictions."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx

from .errors import LabelStudioError

__all__ = ["LabelStudioClient"]

log = logging.getLogger(__name__)


class LabelStudioClient:
    """Authenticates with a legacy token, or a personal access (refresh) token exchanged for a JWT."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._http.headers["Authorization"] = self._authorization()

    def _authorization(self) -> str:
        if self._token.count(".") != 2:  # not a JWT: a legacy API token
            return f"Token {self._token}"
        response = self._send("POST", "/api/token/refresh", json={"refresh": self._token}, authorize=False)
        if response.status_code != 200:
            raise LabelStudioError(f"Label Studio refused the personal access token: HTTP {response.status_code}")
        return f"Bearer {response.json()['access']}"

    def iter_tasks(self, project: str, page_size: int = 100) -> Iterator[dict]:
        """Every task of the project, a page at a time."""
        page = 1
        while tasks := self.tasks_page(project, page, page_size):
            yield from tasks
            if len(tasks) < page_size:
                return
            page += 1

    def tasks_page(self, project: str, page: int, page_size: int = 100) -> list[dict]:
        """One page of the project's tasks, each with the model versions of its predictions; empty
        past the last page."""
        response = self._get("/api/tasks", params={"project": project, "page": page, "page_size": page_size,
                                                    "fields": "all"})
        return [] if response.status_code == 404 else response.json().get("tasks", [])

    def project(self, project: str) -> dict:
        return self._get(f"/api/projects/{project}").json()

    def count_tasks(self, project: str) -> int:
        return int(self.project(project).get("task_number") or 0)

    def create_prediction(self, task_id: int, prediction: dict) -> None:
        response = self._send("POST", "/api/predictions", json={"task": task_id, **prediction})
        if response.status_code >= 300:
            raise LabelStudioError(f"posting a prediction for task {task_id} failed: HTTP {response.status_code}")

    def read_text(self, url: str) -> str:
        """A text behind a task's URL: Label Studio's own paths (uploads, local storage) with our
        credentials, as Label Studio's own backends read them; other hosts without them."""
        own = url.startswith("/") or url.startswith(self.url + "/")
        try:
            response = (self._send("GET", url.removeprefix(self.url)) if own
                        else httpx.get(url, timeout=self._http.timeout, follow_redirects=True))
        except httpx.HTTPError as err:
            raise LabelStudioError(f"cannot read {url}: {err}") from err
        if response.status_code != 200:
            raise LabelStudioError(f"cannot read {url}: HTTP {response.status_code}")
        return response.text

    def _get(self, path: str, **kwargs) -> httpx.Response:
        response = self._send("GET", path, **kwargs)
        if response.status_code >= 400 and response.status_code != 404:
            raise LabelStudioError(f"GET {path} failed: HTTP {response.status_code}")
        return response

    def _send(self, method: str, path: str, *, authorize: bool = True, **kwargs) -> httpx.Response:
        """One request; a personal access token's short-lived access token is renewed once on 401."""
        try:
            response = self._http.request(method, path, **kwargs)
            if response.status_code == 401 and authorize and self._token.count(".") == 2:
                self._http.headers["Authorization"] = self._authorization()
                response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise LabelStudioError(f"cannot reach Label Studio at {self.url}: {err}") from err
        return response
