"""What every benchmark shares: where data and results live, the machine it ran on, JSON and plots."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from reversener.metrics import bootstrap_f1_gain

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))
DATASETS = {
    "wikigold": SHARED / "data" / "wikigold" / "wikigold.conll.txt",
    "wnut17": SHARED / "data" / "wnut17" / "emerging.dev.conll",
}


def machine() -> dict:
    """When and where a figure was measured: the report prints it beside the figure."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "system": platform.platform(),
        "processor": _cpu_model(),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def read_json(path: Path, default=None):
    return json.loads(path.read_text("utf-8")) if path.exists() else default


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    tmp.replace(path)  # a run killed mid-write leaves the previous results whole


def llm_overrides(llm_model: str | None, llm_api_base: str | None) -> dict[str, str]:
    """Settings for the --llm-model/--llm-api-base flags; unset flags leave the env and defaults."""
    return {k: v for k, v in {"llm_model": llm_model, "llm_api_base": llm_api_base}.items() if v}


def gain(before: dict, after: dict) -> str:
    """F1 points gained from one measurement to another on the same sentences, with the paired
    bootstrap 95% interval when both carry their per-sentence counts; a dash against itself."""
    if after is before:
        return "–"
    text = f"{100 * (after['f1'] - before['f1']):+.1f}"
    if "sentence_counts" in before and "sentence_counts" in after:
        low, high = bootstrap_f1_gain(before["sentence_counts"], after["sentence_counts"])
        text += f" ({100 * low:+.1f} to {100 * high:+.1f})"
    return text


@contextmanager
def figure(path: Path, panels: int = 1, size: tuple[float, float] = (6, 3.8)):
    """A row of `panels` axes, saved to `path` when the block ends; matplotlib without a screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=size, squeeze=False)
    try:
        yield axes[0]
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def spread(gains) -> dict[str, float]:
    """Gains over draws: their mean with the 2.5 and 97.5 percentiles (what a project's luck does)."""
    return {"mean": float(np.mean(gains)), "low": float(np.percentile(gains, 2.5)),
            "high": float(np.percentile(gains, 97.5))}


def gains_table(dataset: str, draws: int):
    """A rich table of F1 gains over the LLM's answers per number of corrections, as the offline
    benchmarks of a project's corrections print them."""
    from rich.table import Table

    table = Table(title=f"{dataset}: F1 points over the LLM's answers on the tasks not corrected "
                        f"(mean, 2.5-97.5% over {draws} draws)")
    table.add_column("corrections", justify="right")
    return table
