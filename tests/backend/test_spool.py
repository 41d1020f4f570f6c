"""The webhook spool on its own: order kept, a line cut short by a crash skipped, replay at start."""

from __future__ import annotations

import json
import time

from backend.spool import WebhookSpool


def test_events_left_on_disk_replay_at_start_and_a_cut_line_is_skipped(tmp_path, caplog):
    path = tmp_path / "spool.jsonl"
    path.write_text(json.dumps({"action": "A", "n": 1}) + "\n" + '{"action": "B", "n"' + "\n"
                    + json.dumps({"action": "C", "n": 3}) + "\n", "utf-8")
    applied = []
    spool = WebhookSpool(path, applied.append, interval=0.05)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(applied) < 2:
        time.sleep(0.01)
    assert [e["n"] for e in applied] == [1, 3] and spool.pending() == 0 and not path.exists()
    assert any("line 2 is not a whole event" in r.message for r in caplog.records)


def test_an_event_that_fails_keeps_its_place_and_the_rest_wait_behind_it(tmp_path):
    path = tmp_path / "spool.jsonl"
    fail = {"on": True}
    applied = []

    def apply(event):
        if fail["on"] and event["n"] == 2:
            raise RuntimeError("text not readable yet")
        applied.append(event["n"])

    spool = WebhookSpool(path, apply, interval=0.05)
    for n in (1, 2, 3):
        spool.add({"action": "A", "n": n})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and applied != [1]:
        time.sleep(0.01)
    time.sleep(0.2)
    assert applied == [1] and spool.pending() == 2  # 3 waits behind 2: events apply in order
    fail["on"] = False
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and spool.pending():
        time.sleep(0.01)
    assert applied == [1, 2, 3]
