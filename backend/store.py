"""The example library in Redis: synthetic examples per (project, library key), human ones per
project, build locks and status, finished predictions, and two counters per project: `rev` moves
with every library change (memory copies reload), `gen` only when a new model_version is due.
Keys are namespaced per project."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
from redis import Redis
from redis.lock import Lock

from reversener.library import ExampleLibrary, example_from_dict, example_to_dict
from reversener.thresholds import Scored
from reversener.types import Example, Span

__all__ = ["LibraryStore", "StoredCorrection"]

# A correction bumps the revision, and the generation once every ARGV[1] corrections.
_COUNT_CORRECTION = """
redis.call('INCR', KEYS[4])
if redis.call('INCR', KEYS[5]) >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[5], 0)
  redis.call('INCR', KEYS[6])
end
"""
# Upsert a human example unless its annotation was deleted or a newer version is stored: webhooks
# may arrive twice or out of order, and Label Studio never reuses an annotation id.
_UPSERT_HUMAN = """
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1 then return 0 end
local stored = redis.call('HGET', KEYS[2], ARGV[2])
if stored and tonumber(stored) >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
""" + _COUNT_CORRECTION + "return 1"
_DELETE_HUMAN = """
redis.call('SADD', KEYS[3], ARGV[2])
local removed = redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
if removed == 0 then return 0 end
""" + _COUNT_CORRECTION + "return 1"


# A page's counts are added to its run once, however often the page ran (a retried page re-counts).
_ADD_PAGE = """
if redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then return 0 end
if redis.call('HSETNX', KEYS[1], 'page:' .. ARGV[2], 1) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'pages_done', 1)
for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class LibraryStore:
    """Reads and writes libraries; every key starts with `<prefix>:p:<project>:`. The client answers
    bytes (decode_responses=False, as RQ needs too): redis-py types its replies `bytes | str`."""

    def __init__(self, redis: Redis, prefix: str = "reversener") -> None:
        if redis.get_encoder().decode_responses:
            raise ValueError("LibraryStore needs a Redis client with decode_responses=False, as RQ does")
        self.redis, self.prefix = redis, prefix
        self._upsert = redis.register_script(_UPSERT_HUMAN)
        self._delete = redis.register_script(_DELETE_HUMAN)
        self._add_page = redis.register_script(_ADD_PAGE)

    def key(self, project: str, *parts: str) -> str:
        return ":".join((self.prefix, "p", str(project), *parts))

    # --- the counters and library states a request needs, in one round trip ---
    def snapshot(self, project: str, lib_keys: list[str]) -> tuple[int, int, list[dict | None]]:
        """(revision, generation, each library's meta or None while it is not built)."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.key(project, "rev"))
            pipe.get(self.key(project, "gen"))
            for lib_key in lib_keys:
                pipe.get(self.key(project, "lib", lib_key, "meta"))
            rev, gen, *metas = pipe.execute()
        return int(rev or 0), int(gen or 0), [json.loads(m) if m else None for m in metas]

    def revision(self, project: str) -> int:
        return int(self.redis.get(self.key(project, "rev")) or 0)

    def new_generation(self, project: str) -> int:
        """A new model_version now (Start Training), whatever the corrections count."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(project, "corrections"), 0)
            pipe.incr(self.key(project, "gen"))
            return int(pipe.execute()[1])

    # --- synthetic libraries ---
    def save_synthetic(self, project: str, lib_key: str, library: ExampleLibrary) -> None:
        examples = self.key(project, "lib", lib_key, "examples")
        meta = {"types": library.types, "embedder": library.embedder, "meta": library.meta,
                "version": library.version, "built_at": time.time(), "examples": len(library)}
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(examples)
            for example in library:
                pipe.hset(examples, example.id, _dump(example, library.vector(example.id)))
            pipe.set(self.key(project, "lib", lib_key, "meta"), json.dumps(meta))
            pipe.incr(self.key(project, "rev"))
            pipe.execute()

    def library_meta(self, project: str, lib_key: str) -> dict | None:
        raw = self.redis.get(self.key(project, "lib", lib_key, "meta"))
        return json.loads(raw) if raw else None

    def load(self, project: str, lib_key: str, types: dict[str, str], embedder: str) -> ExampleLibrary | None:
        """The synthetic library (if built) with the project's human examples of these types;
        None while there is neither."""
        meta = self.library_meta(project, lib_key)
        synthetic = self.redis.hgetall(self.key(project, "lib", lib_key, "examples")) if meta else {}
        human = self.redis.hgetall(self.key(project, "human"))
        if meta is None and not human:
            return None
        library = ExampleLibrary(types, embedder, meta["meta"] if meta else {})
        loaded = [_load(raw) for raw in synthetic.values()] + [part for raw in human.values() for part in _parts(raw)]
        for example, vector in loaded:
            spans = tuple(s for s in example.spans if s.label in types)
            library.upsert(replace(example, spans=spans), vector)
        return library

    # --- human examples ---
    def upsert_human(self, project: str, record: str, parts: Sequence[tuple[Example, np.ndarray]],
                     votes: Mapping[str, str], stamp: float, version_every: int = 1,
                     scored: Scored | None = None, predicted: Sequence[Sequence[Span]] | None = None) -> bool:
        """Store one annotation's correction (of one target) as a unit: its examples, one per chunk,
        what it says of names, where the LLM's answer for the text was kept what it says of its scores,
        and where the prediction it corrected is known, that prediction per chunk. True
        if stored; False if the annotation was deleted or a newer version is already here. Every
        `version_every` stored or deleted corrections start a new generation."""
        fields: dict = {"parts": [example_to_dict(e, v) for e, v in parts], "votes": dict(votes)}
        if scored is not None:
            fields["scored"] = {"regions": [list(r) for r in scored.regions], "gold": dict(scored.gold)}
        if predicted is not None:
            fields["predicted"] = [[[s.start, s.end, s.label] for s in part] for part in predicted]
        args: list[int | str] = [version_every, record, json.dumps(fields, ensure_ascii=False), repr(float(stamp))]
        return bool(self._upsert(keys=self._human_keys(project), args=args))

    def delete_human(self, project: str, record: str, version_every: int = 1) -> bool:
        return bool(self._delete(keys=self._human_keys(project), args=[version_every, record]))

    def human_examples(self, project: str) -> list[Example]:
        return [example for raw in self.redis.hvals(self.key(project, "human")) for example, _ in _parts(raw)]

    def corrections(self, project: str) -> list[StoredCorrection]:
        """What each stored correction says of names and, where it had the LLM's answer at hand, of its scores."""
        return [_correction(raw) for raw in self.redis.hvals(self.key(project, "human"))]

    def _human_keys(self, project: str) -> list[str]:
        return [self.key(project, "human"), self.key(project, "human", "stamps"),
                self.key(project, "human", "deleted"), self.key(project, "rev"),
                self.key(project, "corrections"), self.key(project, "gen")]

    # --- finished predictions, per model_version and text, so a later request answers at once ---
    def predictions(self, project: str, version: str, text_keys: list[str]) -> list[dict | None]:
        if not text_keys:
            return []
        raw = self.redis.mget([self._prediction_key(project, version, k) for k in text_keys])
        return [json.loads(r) if r else None for r in raw]

    def _prediction_key(self, project: str, version: str, text_key: str) -> str:
        return self.key(project, "pred", hashlib.sha256(version.encode()).hexdigest()[:16], text_key)

    # --- the prediction last served for a text, whatever its version: what a correction changed ---
    def save_served(self, project: str, text_key: str, prediction: dict, answer: dict, ttl: int,
                    keep: str | None = None) -> None:
        """What was served for a text, with the LLM's answer it came from; with `keep` (that answer's
        version, for a fresh answer), also keep the answer for later requests, in the same round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            if keep is not None:
                pipe.set(self._prediction_key(project, keep, text_key), json.dumps(answer), ex=ttl)
            pipe.set(self.key(project, "served", text_key), json.dumps({"served": prediction, "answer": answer}),
                     ex=ttl)
            pipe.execute()

    def served(self, project: str, text_key: str) -> tuple[dict | None, dict | None]:
        """The prediction last served for a text, and the LLM's answer it came from (None for one
        served before answers were kept beside it)."""
        raw = self.redis.get(self.key(project, "served", text_key))
        if not raw:
            return None, None
        record = json.loads(raw)
        return (record["served"], record["answer"]) if "served" in record else (record, None)

    # --- the project's label config, so webhooks and workers can read its entity types ---
    def save_config(self, project: str, label_config: str) -> None:
        self.redis.set(self.key(project, "config"), label_config)

    def config(self, project: str) -> str | None:
        raw = cast(bytes | None, self.redis.get(self.key(project, "config")))
        return raw.decode("utf-8") if raw else None

    # --- texts seen in /predict, to build a library from when no Label Studio API is reachable ---
    def remember_texts(self, project: str, texts: Iterable[str], cap: int) -> None:
        key = self.key(project, "texts")
        texts = [t for t in texts if t and t.strip()]
        if texts and self.redis.scard(key) < cap:
            self.redis.sadd(key, *texts[:cap])

    def seen_texts(self, project: str) -> list[str]:
        return sorted(t.decode("utf-8") for t in cast(set[bytes], self.redis.smembers(self.key(project, "texts"))))

    # --- the project's latest background pre-labeling run: its pages and counts so far ---
    def start_prelabel(self, project: str, run: str, pages: int, pipe=None) -> None:
        """A new run replaces the last one's progress; on `pipe`, atomically with what else it holds."""
        target = pipe if pipe is not None else self.redis
        key = self.key(project, "prelabel")
        target.delete(key)
        target.hset(key, mapping={"run": run, "pages": pages, "pages_done": 0, "started_at": time.time()})

    def add_prelabel(self, project: str, run: str, page: int, counts: dict[str, int]) -> bool:
        """Add one page's counts to its run (once per page); False if another run started since."""
        args = [run, page, *(x for name, value in counts.items() for x in (name, value))]
        return bool(self._add_page(keys=[self.key(project, "prelabel")], args=args))

    def prelabel_run(self, project: str) -> dict:
        raw = cast(dict[bytes, bytes], self.redis.hgetall(self.key(project, "prelabel")))
        fields = {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"page:")}
        return {k: v if k == "run" else float(v) if k == "started_at" else int(v) for k, v in fields.items()}

    # --- builds: one at a time per library key ---
    def build_lock(self, project: str, lib_key: str, seconds: int) -> Lock:
        return self.redis.lock(self.key(project, "lib", lib_key, "lock"), timeout=seconds, blocking=False)

    def set_status(self, project: str, lib_key: str, state: str, **details) -> None:
        status = {"state": state, "at": time.time(), **details}
        self.redis.set(self.key(project, "lib", lib_key, "status"), json.dumps(status))

    def status(self, project: str, lib_key: str) -> dict | None:
        raw = self.redis.get(self.key(project, "lib", lib_key, "status"))
        return json.loads(raw) if raw else None


def _dump(example: Example, vector: np.ndarray) -> str:
    return json.dumps(example_to_dict(example, vector), ensure_ascii=False)


def _load(raw: bytes | str) -> tuple[Example, np.ndarray]:
    return example_from_dict(json.loads(raw))


def _parts(raw: bytes | str) -> list[tuple[Example, np.ndarray]]:
    """A stored correction's examples; one stored before corrections were split is one example."""
    record = json.loads(raw)
    return [example_from_dict(part) for part in record["parts"]] if "parts" in record else [example_from_dict(record)]


@dataclass(frozen=True)
class StoredCorrection:
    """One stored correction as what a project learns reads it: its examples (one per chunk), what it
    says of names, of the LLM's scores, and what was predicted in each chunk (None where unknown)."""

    parts: list[Example]
    votes: dict[str, str]
    scored: Scored | None
    predicted: list[tuple[Span, ...]] | None


def _correction(raw: bytes | str) -> StoredCorrection:
    """A stored correction; one stored before votes were kept votes for the names it labels."""
    record = json.loads(raw)
    parts = [example for example, _ in _parts(raw)]
    votes = dict(record["votes"]) if "votes" in record else {
        part.text[s.start : s.end]: s.label for part in parts for s in part.spans}
    scored, predicted = record.get("scored"), record.get("predicted")
    return StoredCorrection(
        parts, votes,
        None if scored is None else Scored(tuple((label, score, kept) for label, score, kept in scored["regions"]),
                                           scored["gold"]),
        None if predicted is None else [tuple(Span(*span) for span in part) for part in predicted])
