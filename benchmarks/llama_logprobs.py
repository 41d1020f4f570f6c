"""The bundled model's server with and without our log-probability patch: same answers, less time.

Starts llama-cpp-python's own server, then ours (`reversener.llm.llama_server`), on the bundled model
with the same arguments, and asks each the same requests one at a time: for the first sentences of the
quality sample, the recognizer's prompt with the demonstrations recorded by the quality row
`reversener` and its zero-shot prompt, greedy, with log-probabilities, as the default method asks.
It prints the seconds per answer of each server and whether every answer and every token's
log-probability came back the same; figures land in benchmarks/results/llama_logprobs.json.

    .venv/bin/python -m benchmarks.llama_logprobs wikigold [--sentences 8]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from reversener.evaluation import gold_types, pick_sentences, shots_shown
from reversener.library import ExampleLibrary
from reversener.llm.client import LLMRequest
from reversener.llm.local import LOCAL_ALIAS, SERVER_MODULE, LocalLLMServer, ensure_bundled_model
from reversener.readers import read_conll
from reversener.recognizer import Recognizer
from reversener.runtime import Runtime
from reversener.settings import Settings

from .common import DATASETS, RESULTS, machine, read_json, write_json
from .quality import DEFAULT_SAMPLE, result_path

SERVERS = {"llama-cpp-python": "llama_cpp.server", "reversener (patched)": SERVER_MODULE}


def run(dataset: Annotated[str, typer.Argument(help="wikigold or wnut17.")],
        sentences: Annotated[int, typer.Option(min=1, help="Sentences of the quality sample; two requests each.")] = 8,
        sample: int = DEFAULT_SAMPLE,
        output: Path = RESULTS / "llama_logprobs.json") -> None:
    results = read_json(result_path(dataset, sample))
    if not results or "library" not in results["rows"].get("reversener", {}):
        raise typer.BadParameter(f"run `python -m benchmarks.quality {dataset} --rows reversener` first")
    row = results["rows"]["reversener"]
    gold = pick_sentences(read_conll(DATASETS[dataset]), sample=sample, seed=results.get("seed", 0))[:sentences]
    settings = Settings()
    library = ExampleLibrary.from_dict(row["library"])
    recognizer = Recognizer(None, None, gold_types(gold), library, settings.method())
    # gold is the first `sentences` of the sample whose demonstrations the row holds
    requests = [request for sentence, ids in zip(gold, row["per_sentence"]["demonstrations"], strict=False)
                for request in (recognizer.request(sentence.text, shots_shown(library, ids)),
                                recognizer.request(sentence.text))]
    model = settings.local_model_path or ensure_bundled_model(settings.data_dir)
    answers, seconds = {}, {}
    for name, module in SERVERS.items():
        answers[name], seconds[name] = _ask(module, model, settings, requests)
        print(f"{name}: {sum(seconds[name]) / len(requests):.2f} s per answer")
    plain, patched = answers.values()
    same = sum(a == b for a, b in zip(plain, patched, strict=True))  # text and log-probabilities
    print(f"same answer and log-probabilities: {same} of {len(requests)}")
    write_json(output, {"dataset": dataset, "requests": len(requests), "same": same, "machine": machine(),
                        "seconds_per_answer": {name: sum(s) / len(s) for name, s in seconds.items()},
                        "completion_tokens": sum(len(a.logprobs or ()) for a in patched)})


def _ask(module: str, model: Path, settings: Settings, requests: list[LLMRequest]):
    """Each request's answer from a fresh server of `module`, asked one at a time, and its seconds."""
    with tempfile.TemporaryDirectory() as data_dir:  # its own server, not one another process started
        server = LocalLLMServer(model, Path(data_dir), threads=settings.local_threads,
                                context=settings.local_context, module=module)
        runtime = Runtime(Settings(llm_model=f"openai/{LOCAL_ALIAS}", llm_api_base=server.start(),
                                   llm_api_key="sk-local", llm_cache=False, data_dir=Path(data_dir)))
        try:
            answers, seconds = [], []
            for request in requests:
                start = time.perf_counter()
                [reply] = runtime.llm.complete([request])
                seconds.append(time.perf_counter() - start)
                if reply.error is not None:
                    raise reply.error
                answers.append(reply.completions[0])
        finally:
            runtime.close()
            server.stop()
    return answers, seconds


if __name__ == "__main__":
    typer.run(run)
