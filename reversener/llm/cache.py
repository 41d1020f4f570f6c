"""A persistent cache of LLM answers in SQLite, so that rerunning a build or an eval is free."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .client import TokenLogprobs

__all__ = ["ResponseCache", "Answer", "cache_key"]

_SCHEMA = 2


@dataclass(frozen=True)
class Answer:
    """One sampled answer and what it cost, kept so that a cached rerun can still report its cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    logprobs: TokenLogprobs | None = None


def cache_key(model: str, messages: list[dict[str, str]], params: dict, sample: int) -> str:
    """Identity of one sampled answer: model, prompt, sampling parameters and sample index."""
    blob = json.dumps(
        {"model": model, "messages": messages, "params": params, "sample": sample},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """key -> answer text; WAL mode so several processes can share one file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        if self._db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA:
            self._db.execute("DROP TABLE IF EXISTS answers")  # a cache of another layout: start afresh
            self._db.execute(f"PRAGMA user_version = {_SCHEMA}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, text TEXT NOT NULL,"
            " prompt_tokens INTEGER, completion_tokens INTEGER, seconds REAL, logprobs TEXT)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(answers)")}
        if "logprobs" not in columns:  # a cache written before scores: keep its answers
            self._db.execute("ALTER TABLE answers ADD COLUMN logprobs TEXT")
        self._db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, Answer]:
        keys = list(keys)
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        query = (f"SELECT key, text, prompt_tokens, completion_tokens, seconds, logprobs FROM answers"
                 f" WHERE key IN ({marks})")
        with self._lock:
            rows = self._db.execute(query, keys).fetchall()
        return {key: Answer(text, p or 0, c or 0, s or 0.0, _tokens(lp)) for key, text, p, c, s, lp in rows}

    def put(self, key: str, answer: Answer) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                (key, answer.text, answer.prompt_tokens, answer.completion_tokens, answer.seconds,
                 None if answer.logprobs is None else json.dumps(answer.logprobs, ensure_ascii=False)),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _tokens(stored: str | None) -> TokenLogprobs | None:
    return None if stored is None else tuple((token, logprob) for token, logprob in json.loads(stored))
