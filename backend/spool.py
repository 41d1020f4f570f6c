"""Webhook events that could not reach Redis wait on disk and are replayed when it returns."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from redis.exceptions import RedisError

__all__ = ["WebhookSpool"]

log = logging.getLogger(__name__)


class WebhookSpool:
    """An append-only JSON-lines file of events, and a thread that replays it in order."""

    def __init__(self, path: Path, replay: Callable[[dict], None], interval: float = 5.0) -> None:
        self.path, self._replay, self._interval = path, replay, interval
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if self.pending():  # events left by an earlier process
            self._ensure_thread()

    def add(self, event: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as spool:
            spool.write(json.dumps(event, ensure_ascii=False) + "\n")
        log.warning("Redis unreachable: webhook %s kept in %s until it returns", event.get("action"), self.path)
        self._ensure_thread()

    def pending(self) -> int:
        with self._lock:
            return len(self._read())

    def replay_now(self) -> int:
        """Replay in order until Redis fails again; returns how many events were applied."""
        with self._lock:
            events = self._read()
            done = 0
            for event in events:
                try:
                    self._replay(event)
                except RedisError:
                    break
                done += 1
            rest = events[done:]
            if rest:
                self.path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in rest), "utf-8")
            else:
                self.path.unlink(missing_ok=True)
        if done:
            log.info("replayed %d spooled webhook events; %d left", done, len(rest))
        return done

    def _read(self) -> list[dict]:
        try:
            lines = self.path.read_text("utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="webhook-spool", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.replay_now()
            except Exception:  # e.g. an event the current code cannot apply: keep it, say so, try later
                log.exception("replaying spooled webhook events failed; they stay in %s", self.path)
            if not self.pending():
                return
            self._wake.wait(self._interval)
            self._wake.clear()
