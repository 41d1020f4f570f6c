"""Webhook events that could not be applied (Redis away, a task's text unreadable) wait on disk, in
order, and are replayed until they apply."""

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

    def __init__(self, path: Path, replay: Callable[[dict], object], interval: float = 5.0) -> None:
        self.path, self._replay, self._interval = path, replay, interval
        self._lock = threading.Lock()  # the file
        self._replaying = threading.Lock()  # one replay at a time
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if self.pending():  # events left by an earlier process
            self._ensure_thread()

    def add(self, event: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as spool:
            spool.write(json.dumps(event, ensure_ascii=False) + "\n")
        log.warning("webhook %s kept in %s; replayed when it can be applied", event.get("action"), self.path)
        self._ensure_thread()

    def pending(self) -> int:
        with self._lock:
            return len(self._read())

    def replay_now(self) -> int:
        """Replay in order until one fails again; returns how many events were applied. The file is
        locked only to read and rewrite it: an event added meanwhile is never kept waiting on a
        replay (the first one loads the embedding model: seconds)."""
        with self._replaying:
            with self._lock:
                events = self._read()
            done = 0
            for event in events:
                try:
                    self._replay(event)
                except RedisError:
                    break
                except Exception as err:  # e.g. a text behind a URL not readable yet: keep order, retry later
                    log.warning("spooled webhook %s not applied yet: %s", event.get("action"), err)
                    break
                done += 1
            if done:
                with self._lock:  # events added since were appended after these
                    rest = self._read()[done:]
                    if rest:
                        self.path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in rest), "utf-8")
                    else:
                        self.path.unlink(missing_ok=True)
                log.info("replayed %d spooled webhook events; %d left", done, len(rest))
        return done

    def _read(self) -> list[dict]:
        try:
            lines = self.path.read_text("utf-8").splitlines()
        except FileNotFoundError:
            return []
        events = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
            except ValueError:  # cut short by a crash mid-write: it was never stored whole
                log.error("%s line %d is not a whole event and is skipped: %.80s", self.path, number, line)
        return events

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="webhook-spool", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            self.replay_now()
            if not self.pending():
                return
            self._wake.wait(self._interval)
            self._wake.clear()
