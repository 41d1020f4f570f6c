"""Tests for reversener.library: the example library, retrieval, identity and files."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import numpy as np
import pytest

from reversener.errors import LibraryError
from reversener.library import FORMAT, ExampleLibrary
from reversener.types import Example, Span

from .scripted_llm import FakeEmbedder

TYPES = {"PER": "people.", "LOC": "places."}


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def example(example_id: str, text: str = "Anna lives in Rome.", source: str = "synthetic") -> Example:
    spans = tuple(Span(s, e, label) for s, e, label in [(0, 4, "PER"), (14, 18, "LOC")] if e <= len(text))
    return Example(example_id, text, spans, source)


def empty_library() -> ExampleLibrary:
    return ExampleLibrary(TYPES, "fake")


def ids(examples) -> list[str]:
    return [e.id for e in examples]


# --- contents ---


def test_upsert_adds_and_same_id_replaces():
    library = empty_library()
    library.upsert(example("a"), unit(1, 0, 0))
    library.upsert(example("b"), unit(0, 1, 0))
    assert len(library) == 2 and "a" in library

    replacement = example("a", "Anna moved to Oslo.", source="human")
    library.upsert(replacement, unit(0, 0, 1))
    assert len(library) == 2
    assert library.get("a") == replacement
    # the replaced vector is the one retrieval uses
    assert ids(library.nearest(unit(0, 0, 1), 0, humans=1)) == ["a"]


def test_remove():
    library = empty_library()
    library.upsert(example("a"), unit(1, 0))
    library.upsert(example("b"), unit(0, 1))
    assert ids(library.nearest(unit(1, 0), 2)) == ["a", "b"]

    assert library.remove("a") is True
    assert "a" not in library and library.get("a") is None
    assert ids(library.nearest(unit(1, 0), 2)) == ["b"]
    assert library.remove("a") is False


def test_upsert_with_type_not_in_library_raises():
    library = empty_library()
    bad = Example("x", "Acme Corp hired Anna.", (Span(0, 9, "ORG"), Span(16, 20, "PER")))
    with pytest.raises(LibraryError, match="ORG"):
        library.upsert(bad, unit(1, 0))
    assert len(library) == 0


def test_counts_by_source():
    library = empty_library()
    library.upsert(example("a"), unit(1, 0))
    library.upsert(example("b", source="human"), unit(0, 1))
    library.upsert(example("c"), unit(1, 1))
    assert library.counts() == {"synthetic": 2, "human": 1}


# --- retrieval ---


def test_nearest_orders_by_cosine():
    library = empty_library()
    library.upsert(example("far"), unit(0, 1, 0))
    library.upsert(example("near"), unit(1, 0.1, 0))
    library.upsert(example("middle"), unit(1, 1, 0))
    library.upsert(example("opposite"), unit(-1, 0, 0))
    assert ids(library.nearest(unit(1, 0, 0), 4)) == ["near", "middle", "far", "opposite"]
    assert ids(library.nearest(unit(1, 0, 0), 2)) == ["near", "middle"]


def test_nearest_with_fake_embedder_prefers_similar_text():
    embedder = FakeEmbedder()
    texts = {"rome": "Anna lives in Rome.", "oslo": "Anna lives in Oslo now.", "other": "Xu met Bo."}
    library = empty_library()
    for (key, text), vector in zip(texts.items(), embedder.embed(list(texts.values())), strict=True):
        library.upsert(example(key, text), vector)
    query = embedder.embed(["Anna lives in Rome!"])[0]
    assert ids(library.nearest(query, 3)) == ["rome", "oslo", "other"]


def test_entity_free_examples_are_capped_among_the_nearest_and_ties_break_by_id():
    library = empty_library()
    for key, x in (("empty1", 1.0), ("empty2", 0.9), ("empty3", 0.8), ("named", 0.1)):
        library.upsert(Example(key, "Nothing named here." if key.startswith("empty") else "Anna lives in Rome.",
                               () if key.startswith("empty") else example(key).spans), unit(x, 1 - x))
    assert ids(library.nearest(unit(1, 0), 3)) == ["empty1", "empty2", "empty3"]
    assert ids(library.nearest(unit(1, 0), 3, max_negatives=1)) == ["empty1", "named"]
    assert ids(library.nearest(unit(1, 0), 3, max_negatives=0)) == ["named"]
    twins = empty_library()
    for key in ("b", "c", "a"):
        twins.upsert(example(key), unit(1, 0))
    assert ids(twins.nearest(unit(1, 0), 3)) == ["a", "b", "c"]  # the same order whatever the insertion order


def test_generated_examples_and_human_corrections_fill_their_own_quotas():
    library = empty_library()
    library.upsert(example("far human", source="human"), unit(1, 0.5))
    library.upsert(example("near human", source="human"), unit(1, 0.1))
    library.upsert(example("synthetic"), unit(1, 0))
    library.upsert(example("other synthetic"), unit(0, 1))
    # A correction adds to the m generated examples; it does not take a closer generated one's place.
    assert ids(library.nearest(unit(1, 0), 1)) == ["synthetic"]
    assert ids(library.nearest(unit(1, 0), 1, humans=1)) == ["synthetic", "near human"]
    assert ids(library.nearest(unit(1, 0), 2, humans=2)) == ["synthetic", "near human", "far human", "other synthetic"]
    assert ids(library.nearest(unit(1, 0), 0, humans=1)) == ["near human"]
    # Before a build finishes there are only corrections: they never fill the generated quota.
    library.remove("synthetic"), library.remove("other synthetic")
    assert ids(library.nearest(unit(1, 0), 4)) == []


def test_corrections_that_fixed_an_error_come_first_among_the_nearest_few():
    library = empty_library()
    library.upsert(example("accepted, nearest", source="human"), unit(1, 0.1))
    library.upsert(example("accepted, second", source="human"), unit(1, 0.2))
    library.upsert(replace(example("fixed, third", source="human"), fixes=2), unit(1, 0.3))
    library.upsert(replace(example("fixed, far", source="human"), fixes=1), unit(0, 1))
    library.upsert(example("synthetic"), unit(1, 0))
    assert ids(library.nearest(unit(1, 0), 1, humans=2)) == ["synthetic", "accepted, nearest", "accepted, second"]
    # Among the 3 nearest corrections, the one that fixed an error takes a place; the far one stays out.
    assert ids(library.nearest(unit(1, 0), 1, humans=2, fixes_first=3)) == [
        "synthetic", "fixed, third", "accepted, nearest"]
    assert ids(library.nearest(unit(1, 0), 1, humans=2, fixes_first=2)) == [
        "synthetic", "accepted, nearest", "accepted, second"]
    # A pool of 4 reaches both fixed ones, nearest first; one too long to show is not in the pool.
    assert ids(library.nearest(unit(1, 0), 0, humans=2, fixes_first=4)) == ["fixed, third", "fixed, far"]
    library.upsert(replace(example("fixed, long", "Anna lives in Rome. " * 10, source="human"), fixes=1),
                   unit(1, 0.25))
    assert ids(library.nearest(unit(1, 0), 0, humans=1, fixes_first=3, max_chars=100)) == ["fixed, third"]


def test_a_library_fits_when_nearest_picks_all_of_it_whatever_the_query():
    library = empty_library()
    library.upsert(example("b"), unit(1, 0))
    library.upsert(example("a"), unit(0, 1))
    library.upsert(example("h", source="human"), unit(1, 1))
    assert library.fits(2, humans=1) and not library.fits(1, humans=1) and not library.fits(2, humans=0)
    assert not library.fits(3)  # room for three, but the correction is not a generated example
    library.upsert(Example("empty", "Nothing named here.", ()), unit(1, 0))
    assert library.fits(3, humans=1) and not library.fits(3, max_negatives=0, humans=1)
    # Without a query every example ties: human first, then by id.
    assert ids(library.nearest(None, 3, humans=1)) == ["h", "a", "b", "empty"]
    assert all(set(ids(library.nearest(unit(*v), 3, humans=1))) == {"h", "a", "b", "empty"}
               for v in ((1, 0), (0, 1), (-1, 0.3)))


def test_human_correction_comes_first_in_a_tie_and_negatives_are_capped_across_both_quotas():
    library = empty_library()
    library.upsert(example("synthetic"), unit(1, 0))
    library.upsert(example("human", source="human"), unit(1, 0))
    assert ids(library.nearest(unit(1, 0), 1, humans=1)) == ["human", "synthetic"]
    library.upsert(Example("empty human", "Nothing named here.", (), "human"), unit(1, 0.2))
    library.upsert(Example("empty synthetic", "Nothing named here either.", ()), unit(1, 0.3))
    assert ids(library.nearest(unit(1, 0), 2, max_negatives=1, humans=2)) == [
        "human", "synthetic", "empty human"]


def test_m_larger_than_library_returns_all():
    library = empty_library()
    library.upsert(example("a"), unit(1, 0))
    library.upsert(example("b"), unit(0, 1))
    assert sorted(ids(library.nearest(unit(1, 1), 10))) == ["a", "b"]


def test_empty_library_and_nonpositive_m():
    assert empty_library().nearest(unit(1, 0), 5) == []
    library = empty_library()
    library.upsert(example("a"), unit(1, 0))
    assert library.nearest(unit(1, 0), 0) == []


# --- version ---


def test_version_changes_on_every_content_change():
    library = empty_library()
    seen = [library.version]

    library.upsert(example("a"), unit(1, 0))
    seen.append(library.version)
    library.upsert(example("b"), unit(0, 1))
    seen.append(library.version)
    library.upsert(example("a", "Anna moved to Oslo."), unit(1, 0))  # new text
    seen.append(library.version)
    library.upsert(example("a", "Anna moved to Oslo.", source="human"), unit(1, 0))  # new source
    seen.append(library.version)
    library.upsert(replace(example("a", "Anna moved to Oslo.", source="human"), fixes=1), unit(1, 0))  # what it fixed
    seen.append(library.version)
    library.remove("b")
    seen.append(library.version)

    assert len(set(seen)) == len(seen), seen
    assert ExampleLibrary({"PER": "other."}, "fake").version != empty_library().version
    assert ExampleLibrary(TYPES, "other-embedder").version != empty_library().version


def test_version_is_the_same_for_the_same_content_in_another_order():
    first, second = empty_library(), ExampleLibrary(dict(reversed(TYPES.items())), "fake")
    first.upsert(example("a"), unit(1, 0))
    first.upsert(example("b", "Bo lives in Oslo."), unit(0, 1))
    second.upsert(example("b", "Bo lives in Oslo."), unit(0, 1))
    second.upsert(example("a"), unit(1, 0))
    assert first.version == second.version


def test_version_is_back_after_undoing_a_change():
    library = empty_library()
    library.upsert(example("a"), unit(1, 0))
    before = library.version
    library.upsert(example("b"), unit(0, 1))
    library.remove("b")
    assert library.version == before


# --- files ---


def vectors_of(library: ExampleLibrary) -> dict[str, np.ndarray]:
    """Vectors as the file format stores them (little-endian float32, base64)."""
    return {
        item["id"]: np.frombuffer(base64.b64decode(item["vector"]), dtype="<f4")
        for item in library.to_dict()["examples"]
    }


def test_save_load_round_trip(tmp_path):
    embedder = FakeEmbedder()
    library = ExampleLibrary(TYPES, embedder.name, meta={"seed": 3})
    examples = [example("a"), replace(example("b", "Bo lives in Oslo.", source="human"), fixes=2),
                example("c", "Nobody.")]
    vectors = embedder.embed([e.text for e in examples])
    library.extend(examples, vectors)

    path = tmp_path / "sub" / "library.json"
    library.save(path)
    assert path.exists() and not path.with_suffix(".json.tmp").exists()

    # Written only where a correction fixed something, so libraries saved before keep their version.
    assert [item.get("fixes") for item in json.loads(path.read_text("utf-8"))["examples"]] == [None, 2, None]
    loaded = ExampleLibrary.load(path)
    assert loaded.types == TYPES and loaded.embedder == "fake" and loaded.meta == {"seed": 3}
    assert list(loaded) == examples
    assert loaded.version == library.version
    loaded_vectors = vectors_of(loaded)
    for e, vector in zip(examples, vectors, strict=True):
        np.testing.assert_array_equal(loaded_vectors[e.id], vector)
    query = embedder.embed(["Bo lives in Oslo!"])[0]
    assert ids(loaded.nearest(query, 3)) == ids(library.nearest(query, 3))


def test_saved_file_declares_its_format(tmp_path):
    library = empty_library()
    library.upsert(example("a"), unit(1, 0))
    library.save(tmp_path / "lib.json")
    data = json.loads((tmp_path / "lib.json").read_text("utf-8"))
    assert data["format"] == FORMAT
    assert data["version"] == library.version


def test_load_of_missing_file_raises(tmp_path):
    with pytest.raises(LibraryError, match="cannot read library"):
        ExampleLibrary.load(tmp_path / "nope.json")


def test_load_of_non_json_raises(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "reversener-library/1", "examples": [', "utf-8")
    with pytest.raises(LibraryError, match="cannot read library"):
        ExampleLibrary.load(path)


@pytest.mark.parametrize("content", [{"format": "something-else/2"}, {"types": {}}, [1, 2, 3], "text"])
def test_load_of_wrong_format_raises(tmp_path, content):
    path = tmp_path / "other.json"
    path.write_text(json.dumps(content), "utf-8")
    with pytest.raises(LibraryError, match="not a reversener-library/1 file"):
        ExampleLibrary.load(path)


def good_file() -> dict:
    library = empty_library()
    library.upsert(example("a"), unit(1, 0))
    return library.to_dict()


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: d.pop("types"), "KeyError"),
        (lambda d: d.pop("examples"), "KeyError"),
        (lambda d: d["examples"][0].pop("text"), "KeyError"),
        (lambda d: d["examples"][0]["spans"][0].pop("start"), "KeyError"),
        (lambda d: d["examples"][0].update(vector="not base64!"), "malformed library"),
        (lambda d: d.update(examples=7), "TypeError"),
        (lambda d: d["examples"].append("just a string"), "TypeError"),
    ],
)
def test_load_of_malformed_file_raises_helpful_error(tmp_path, breakage, message):
    data = good_file()
    breakage(data)
    path = tmp_path / "malformed.json"
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(LibraryError, match="malformed library") as caught:
        ExampleLibrary.load(path)
    assert message in str(caught.value)


def test_load_of_example_with_type_not_in_library_raises(tmp_path):
    data = good_file()
    data["examples"][0]["spans"][0]["label"] = "ORG"
    path = tmp_path / "types.json"
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(LibraryError, match="ORG"):
        ExampleLibrary.load(path)


def test_a_vector_of_another_dimension_is_refused():
    library = ExampleLibrary({"PER": "people"}, "fake")
    library.upsert(Example("a", "Anna", ()), [1.0, 0.0])
    with pytest.raises(LibraryError, match="3-d vector"):
        library.upsert(Example("b", "Bob", ()), [1.0, 0.0, 0.0])
