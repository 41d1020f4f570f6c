"""Step 5: the example library, labeled sentences with their embeddings and provenance."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from itertools import islice
from pathlib import Path

import numpy as np

from . import __version__
from .errors import LibraryError
from .types import Example, Span

__all__ = ["ExampleLibrary", "FORMAT", "example_to_dict", "example_from_dict"]

FORMAT = "reversener-library/1"
_TIE_DECIMALS = 3  # similarities equal to this precision count as a tie, which human examples win


class ExampleLibrary:
    """Examples and one unit vector per example, upserted and removed by id."""

    def __init__(self, types: dict[str, str], embedder: str, meta: dict | None = None) -> None:
        self.types = dict(types)
        self.embedder = embedder
        self.meta = dict(meta or {})
        self._examples: dict[str, Example] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._matrix: tuple[list[str], np.ndarray, np.ndarray] | None = None  # see _stacked

    # --- contents ---
    def __len__(self) -> int:
        return len(self._examples)

    def __iter__(self):
        return iter(self._examples.values())

    def __contains__(self, example_id: str) -> bool:
        return example_id in self._examples

    def get(self, example_id: str) -> Example | None:
        return self._examples.get(example_id)

    def upsert(self, example: Example, vector: np.ndarray) -> None:
        unknown = {s.label for s in example.spans} - set(self.types)
        if unknown:
            raise LibraryError(f"example {example.id} has types {sorted(unknown)} not in {sorted(self.types)}")
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        dimension = next((len(v) for v in self._vectors.values()), len(vector))
        if len(vector) != dimension:
            raise LibraryError(f"example {example.id} has a {len(vector)}-d vector; this library's are "
                               f"{dimension}-d (was it embedded with another model than {self.embedder}?)")
        self._examples[example.id] = example
        self._vectors[example.id] = vector
        self._matrix = None

    def extend(self, examples: Iterable[Example], vectors: np.ndarray) -> None:
        for example, vector in zip(examples, vectors, strict=True):
            self.upsert(example, vector)

    def vector(self, example_id: str) -> np.ndarray:
        return self._vectors[example_id]

    def remove(self, example_id: str) -> bool:
        self._matrix = None
        self._vectors.pop(example_id, None)
        return self._examples.pop(example_id, None) is not None

    def counts(self) -> dict[str, int]:
        return dict(Counter(e.source for e in self._examples.values()))

    # --- retrieval ---
    def fits(self, m: int, max_negatives: int | None = None, humans: int = 0) -> bool:
        """Whether `nearest` picks every example whatever the query: then no query needs embedding.
        Its quotas do not depend on the order, so picking with no query tells."""
        return (len(self) <= max(m, 0) + max(humans, 0)  # a big library never fits: no sort per request
                and len(self.nearest(None, m, max_negatives, humans)) == len(self))

    def nearest(self, vector: np.ndarray | None, m: int, max_negatives: int | None = None,
                humans: int = 0, max_chars: int | None = None, label: str | None = None,
                fixes_first: int = 0) -> list[Example]:
        """The m most similar generated examples and the `humans` most similar human corrections, most
        similar first (ties: human first, then by id; a vector of None ties all). Separate quotas: a
        correction from another document must not displace the generated example that copies this
        text's structure, which cost F1 when they competed (docs/method.md, Why these defaults). At most
        `max_negatives` of them all without entities: a prompt of mostly empty answers teaches a small
        model to answer empty. Examples longer than `max_chars`, or (with `label`) holding no entity of
        that label, are passed over. With `fixes_first`, among that many nearest corrections those
        that fixed an error of the model come first."""
        room = {False: max(m, 0), True: max(humans, 0)}  # keyed by "is human"
        if not any(room.values()) or not self._examples:
            return []
        ids, matrix, tiebreak = self._stacked()
        similarity = (np.zeros(len(ids), dtype=np.float32) if vector is None
                      else np.round(matrix @ np.asarray(vector, dtype=np.float32), _TIE_DECIMALS))

        def eligible(example: Example) -> bool:
            return ((max_chars is None or len(example.text) <= max_chars)
                    and (label is None or any(s.label == label for s in example.spans)))

        order = list(np.lexsort((tiebreak, -similarity)))  # last key sorts first
        if fixes_first > humans:
            slots = list(islice((k for k, i in enumerate(order) if self._examples[ids[i]].source == "human"
                                 and eligible(self._examples[ids[i]])), fixes_first))
            pool = sorted((order[k] for k in slots), key=lambda i: self._examples[ids[i]].fixes == 0)  # stable
            for k, i in zip(slots, pool, strict=True):
                order[k] = i
        picked, negatives = [], 0
        for i in order:
            example = self._examples[ids[i]]
            human = example.source == "human"
            if not room[human] or not eligible(example):
                continue
            if not example.spans:
                if max_negatives is not None and negatives >= max_negatives:
                    continue
                negatives += 1
            picked.append(example)
            room[human] -= 1
            if not any(room.values()):
                break
        return picked

    def _stacked(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Ids, their vectors as one matrix, and each one's rank among ties (human first, then by id);
        computed once per change of the library, not per query."""
        if self._matrix is None:
            ids = list(self._examples)
            human = np.array([self._examples[i].source == "human" for i in ids])
            tiebreak = np.argsort(np.lexsort((np.array(ids), ~human)))
            self._matrix = (ids, np.stack([self._vectors[i] for i in ids]), tiebreak)
        return self._matrix

    # --- identity and files ---
    @property
    def version(self) -> str:
        """Stable hash of types, embedder and examples: any change gives a new version."""
        content = {
            "types": self.types,
            "embedder": self.embedder,
            "examples": [_example_dict(self._examples[i]) for i in sorted(self._examples)],
        }
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "engine": __version__,
            "types": self.types,
            "embedder": self.embedder,
            "meta": self.meta,
            "version": self.version,
            "examples": [example_to_dict(e, self._vectors[e.id]) for e in self._examples.values()],
        }

    @classmethod
    def from_dict(cls, data: dict) -> ExampleLibrary:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise LibraryError(f"not a {FORMAT} file (missing or different 'format')")
        try:
            library = cls(data["types"], data["embedder"], data.get("meta"))
            for item in data["examples"]:
                library.upsert(*example_from_dict(item))
        except (KeyError, TypeError, ValueError) as err:
            raise LibraryError(f"malformed library: {type(err).__name__}: {err}") from err
        return library

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".tmp")
        partial.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), "utf-8")
        partial.replace(path)  # never leave a half-written library behind

    @classmethod
    def load(cls, path: Path) -> ExampleLibrary:
        try:
            data = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise LibraryError(f"cannot read library {path}: {err}") from err
        return cls.from_dict(data)


def _example_dict(example: Example) -> dict:
    spans = [{"start": s.start, "end": s.end, "label": s.label} for s in example.spans]
    fixes = {"fixes": example.fixes} if example.fixes else {}  # absent at 0: earlier libraries keep their version
    return {"id": example.id, "text": example.text, "spans": spans, "source": example.source, **fixes}


def example_to_dict(example: Example, vector: np.ndarray) -> dict:
    """One example with its vector, as stored in library files and in Redis."""
    encoded = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return {**_example_dict(example), "vector": encoded}


def example_from_dict(item: dict) -> tuple[Example, np.ndarray]:
    spans = tuple(Span(s["start"], s["end"], s["label"]) for s in item["spans"])
    example = Example(str(item["id"]), item["text"], spans, item.get("source", "synthetic"), int(item.get("fixes", 0)))
    return example, np.frombuffer(base64.b64decode(item["vector"]), dtype="<f4").copy()
