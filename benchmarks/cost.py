"""LLM cost per annotated sentence: ReverseNER against self-annotation, from the quality rows' counters.

Self-annotation is the Self-Improving zero-shot NER recipe (Xie et al., 2024): the LLM labels every
unlabeled sentence with 5 sampled answers, votes, and then predicts each sentence with the nearest
self-labeled ones as demonstrations. Its cost is assembled from what we measured with the same
LLM and prompts: 5 x the zero-shot row's cost per sentence, plus the ReverseNER row's inference
cost (the same prompt with m demonstrations). ReverseNER pays its library build once per corpus.

    .venv/bin/python -m benchmarks.cost        # reads benchmarks/results/quality-*.json; no LLM calls
"""

from __future__ import annotations

from .common import DATASETS, RESULTS, figure, machine, read_json, write_json
from .quality import result_path, samples_run

SELF_SAMPLES = 5
CORPUS_SIZES = [50, 200, 1000, 10_000]
FIELDS = {"calls": "calls_per_sentence", "prompt_tokens": "prompt_tokens_per_sentence",
          "completion_tokens": "completion_tokens_per_sentence"}


def per_sentence(dataset: str) -> dict | None:
    """Build and per-sentence costs of each approach, from one dataset's measured rows (those of the
    largest sample where both are done)."""
    for sample in samples_run(dataset):
        results = read_json(result_path(dataset, sample))
        rows = (results or {}).get("rows", {})
        if "zero-shot" in rows and "reversener" in rows:
            break
    else:
        return None
    n = results["sample"]
    zero, rn = rows["zero-shot"]["cost"], rows["reversener"]
    build = {k: rn["build"]["cost"][f] for k, f in FIELDS.items()}
    inference = {k: rn["cost"][f] - build[k] / n for k, f in FIELDS.items()}
    return {
        "sentences_measured": n,
        "reversener": {"once_per_corpus": build, "per_sentence": inference},
        "self_annotation": {"once_per_corpus": dict.fromkeys(FIELDS, 0.0),
                            "per_sentence": {k: SELF_SAMPLES * zero[f] + inference[k] for k, f in FIELDS.items()}},
        "zero_shot": {"once_per_corpus": dict.fromkeys(FIELDS, 0.0),
                      "per_sentence": {k: zero[f] for k, f in FIELDS.items()}},
    }


def at_size(cost: dict, n: int) -> dict:
    return {k: cost["once_per_corpus"][k] / n + cost["per_sentence"][k] for k in FIELDS}


def main() -> None:
    figures = {"machine": machine(), "self_samples": SELF_SAMPLES, "corpus_sizes": CORPUS_SIZES, "datasets": {}}
    for dataset in DATASETS:
        if (costs := per_sentence(dataset)) is None:
            print(f"{dataset}: no zero-shot and reversener rows yet; run benchmarks.quality {dataset} first")
            continue
        costs["by_corpus_size"] = {name: {n: at_size(costs[name], n) for n in CORPUS_SIZES}
                                   for name in ("zero_shot", "reversener", "self_annotation")}
        figures["datasets"][dataset] = costs
        print(f"\n{dataset}: LLM cost per annotated sentence (calls / prompt tokens / completion tokens)")
        names = ("zero_shot", "reversener", "self_annotation")
        print(f"{'corpus size':>12}" + "".join(f"{name:>30}" for name in names))
        for n in CORPUS_SIZES:
            cells = [costs["by_corpus_size"][name][n] for name in ("zero_shot", "reversener", "self_annotation")]
            print(f"{n:>12}" + "".join(f"{c['calls']:>10.2f}{c['prompt_tokens']:>10.0f}{c['completion_tokens']:>10.0f}"
                                       for c in cells))
    write_json(RESULTS / "cost.json", figures)
    plot(figures)


def plot(figures: dict) -> None:
    if not figures["datasets"]:
        return
    panels = len(figures["datasets"])
    with figure(RESULTS / "cost.png", panels, (5.5 * panels, 3.8)) as axes:
        for ax, (dataset, costs) in zip(axes, figures["datasets"].items(), strict=True):
            for name, style in (("zero_shot", "k:"), ("reversener", "o-"), ("self_annotation", "s--")):
                cells = [costs["by_corpus_size"][name][n] for n in CORPUS_SIZES]
                tokens = [c["prompt_tokens"] + c["completion_tokens"] for c in cells]
                ax.plot(CORPUS_SIZES, tokens, style, label=name.replace("_", " "))
            ax.set_xscale("log")
            ax.set_xlabel("sentences in the corpus")
            ax.set_ylabel("LLM tokens per annotated sentence")
            ax.set_title(dataset)
            ax.legend(fontsize=8)


if __name__ == "__main__":
    main()
