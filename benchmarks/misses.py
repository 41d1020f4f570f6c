"""Why demonstrations cost recall: the gold entities zero-shot finds and ReverseNER loses, read
against the demonstrations each sentence was shown. No LLM calls: it reads two quality rows (their
per-sentence predictions, demonstrations and library) and embeds the sentences for similarities.

    .venv/bin/python -m benchmarks.misses wikigold        # after benchmarks.quality wikigold
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import numpy as np
import typer

from reversener.evaluation import pick_sentences, sentences_from
from reversener.library import ExampleLibrary
from reversener.readers import read_conll
from reversener.runtime import Runtime
from reversener.settings import Settings

from .common import DATASETS, RESULTS, read_json, write_json
from .quality import DEFAULT_SAMPLE, result_path

EXAMPLES = 12  # lost entities kept verbatim in the JSON, to read


def run(
    dataset: Annotated[str, typer.Argument(help=f"One of {', '.join(DATASETS)}.")],
    sample: int = DEFAULT_SAMPLE,
    before: Annotated[str, typer.Option(help="The row that finds them.")] = "zero-shot",
    after: Annotated[str, typer.Option(help="The row that loses them.")] = "reversener",
) -> None:
    """Write benchmarks/results/misses-<dataset>.json and print its summary."""
    results = read_json(result_path(dataset, sample)) or {}
    rows = results.get("rows", {})
    if before not in rows or after not in rows or "library" not in rows[after]:
        raise typer.BadParameter(f"{dataset}: run benchmarks.quality {dataset} --rows {before},{after} first")
    gold = pick_sentences(read_conll(DATASETS[dataset]), sample=sample, seed=results["seed"])
    first, second = (sentences_from(gold, rows[name]["per_sentence"]) for name in (before, after))
    library = ExampleLibrary.from_dict(rows[after]["library"])
    shown = rows[after]["per_sentence"]["demonstrations"]
    runtime = Runtime(Settings())
    try:
        vectors = runtime.embedder.embed([g.text for g in gold])
    finally:
        runtime.close()
    summary = analyse(gold, first, second, library, shown, vectors)
    summary |= {"dataset": dataset, "sample": sample, "before": before, "after": after}
    write_json(RESULTS / f"misses-{dataset}.json", summary)
    print_summary(summary)


def analyse(gold, first, second, library: ExampleLibrary, shown: list[list[str]], vectors: np.ndarray) -> dict:
    """Classify each gold entity that `first` found and `second` did not, and describe the
    demonstrations of its sentence against those of the entities both found."""
    lost, kept = [], []
    flow = Counter()  # what changed besides the losses: gains, and wrong spans removed or added
    for g, a, b, ids, vector in zip(gold, first, second, shown, vectors, strict=True):
        found_a, found_b = {s.key for s in a.spans}, {s.key for s in b.spans}
        truth = {s.key for s in g.spans}
        flow.update(gained=len((found_b - found_a) & truth), wrong_removed=len((found_a - found_b) - truth),
                    wrong_added=len((found_b - found_a) - truth))
        demos = [library.get(i) for i in ids if i in library]
        context = _demonstrations(demos, vector, library)
        for span in g.spans:
            if span.key not in found_a:
                continue
            record = {"label": span.label, **context}
            if span.key in found_b:
                kept.append(record)
                continue
            overlapping = [s for s in b.spans if s.start < span.end and s.end > span.start]
            record["what"] = ("dropped" if not overlapping else
                              "other type" if any((s.start, s.end) == (span.start, span.end) for s in overlapping)
                              else "other boundary")
            record["text"], record["entity"] = g.text, g.text[span.start:span.end]
            record["predicted"] = [[g.text[s.start:s.end], s.label] for s in overlapping]
            record["demonstrations"] = [[d.text, [[d.text[s.start:s.end], s.label] for s in d.spans]] for d in demos]
            lost.append(record)
    return {"lost": len(lost), "kept": len(kept), **flow, "what": dict(Counter(r["what"] for r in lost)),
            "lost_by_type": dict(Counter(r["label"] for r in lost)),
            "kept_by_type": dict(Counter(r["label"] for r in kept)),
            "profile": {name: _profile(records) for name, records in (("lost", lost), ("kept", kept))},
            "examples": [{k: r[k] for k in ("entity", "label", "what", "predicted", "text", "demonstrations")}
                         for r in lost[:EXAMPLES]]}


def _demonstrations(demos, vector: np.ndarray, library: ExampleLibrary) -> dict:
    """What a sentence's prompt showed: how similar, how many without entities, which types."""
    similarity = [float(library.vector(d.id) @ vector) for d in demos]
    return {"max_similarity": max(similarity, default=0.0), "mean_similarity": float(np.mean(similarity or [0.0])),
            "entity_free": sum(not d.spans for d in demos), "shown": len(demos),
            "types_shown": sorted({s.label for d in demos for s in d.spans})}


def _profile(records: list[dict]) -> dict:
    """Averages over a group of entities: is its type among the demonstrations' labels, etc."""
    if not records:
        return {}
    return {"entities": len(records),
            "type_shown_share": float(np.mean([r["label"] in r["types_shown"] for r in records])),
            "with_entity_free_demo_share": float(np.mean([r["entity_free"] > 0 for r in records])),
            "mean_max_similarity": float(np.mean([r["max_similarity"] for r in records])),
            "mean_similarity": float(np.mean([r["mean_similarity"] for r in records]))}


def print_summary(summary: dict) -> None:
    print(f"{summary['dataset']}: {summary['lost']} gold entities found by {summary['before']} and lost by "
          f"{summary['after']}; {summary['kept']} found by both; {summary['gained']} gained; wrong spans: "
          f"{summary['wrong_removed']} removed, {summary['wrong_added']} added")
    print("  lost as:", summary["what"])
    print("  lost by type:", summary["lost_by_type"], " kept by type:", summary["kept_by_type"])
    for name, profile in summary["profile"].items():
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                        for k, v in profile.items()))


if __name__ == "__main__":
    typer.run(run)
