"""A small OpenAI-compatible chat server on loopback, scripted per use: latency, errors, answers."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .loopback import JSONHandler, LoopbackServer


@dataclass
class Reply:
    """What the server sends for one request: an HTTP status and either answers or an error body;
    `logprobs`, per answer, the (token, log-probability) pairs sent when a request asks for them
    (by default each word, space and sign of the answer is a token of log-probability 0)."""

    answers: list[str] | None = None
    status: int = 200
    delay: float = 0.0
    logprobs: list[list[tuple[str, float]]] | None = None


Responder = Callable[[dict], "Reply | str | list[str]"]
_TOKENS = re.compile(r"\w+|\s+|[^\w\s]")


class FakeOpenAIServer(LoopbackServer):
    """Serves /v1/chat/completions from a responder(body) and records every body it receives."""

    def __init__(self, responder: Responder, latency: float = 0.0) -> None:
        self.responder, self.latency = responder, latency
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.timeline: list[tuple[float, int]] = []  # (time.monotonic(), calls in flight) at each change
        self.cpu_seconds = 0.0  # CPU its handler threads spent, to show the stand-in is cheap
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def _reply(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.timeline.append((time.monotonic(), self.in_flight))
        try:
            reply = self.responder(body)
            reply = reply if isinstance(reply, Reply) else Reply([reply] if isinstance(reply, str) else reply)
            time.sleep(self.latency + reply.delay)
            if reply.status != 200:
                return reply.status, {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}
            return 200, _completion(body, reply.answers or [""], reply.logprobs)
        finally:
            with self._lock:
                self.in_flight -= 1
                self.timeline.append((time.monotonic(), self.in_flight))

    def _handler(self):
        fake = self

        class Handler(JSONHandler):
            def do_POST(self):
                cpu = time.thread_time()
                self.send_json(*fake._reply(self.read_json()))
                with fake._lock:
                    fake.cpu_seconds += time.thread_time() - cpu

            def do_GET(self):
                self.send_json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

        return Handler


def _completion(body: dict, answers: list[str], logprobs: list[list[tuple[str, float]]] | None) -> dict:
    texts = answers[: int(body.get("n") or 1)]  # fewer than n is allowed, as llama.cpp does
    tokens = logprobs or [[(t, 0.0) for t in _TOKENS.findall(text)] for text in texts]
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop",
             **({"logprobs": {"content": [{"token": token, "logprob": lp, "bytes": list(token.encode()),
                                           "top_logprobs": []} for token, lp in tokens[i]]}}
                if body.get("logprobs") else {})}
            for i, t in enumerate(texts)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": sum(len(t.split()) for t in texts),
            "total_tokens": prompt_tokens + sum(len(t.split()) for t in texts),
        },
    }
