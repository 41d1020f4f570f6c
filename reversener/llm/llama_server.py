"""llama-cpp-python's OpenAI-compatible server, with its log-probabilities made affordable.

llama-cpp-python 0.3 spends most of an answer's time on log-probabilities, outside the model:
- it takes the log-softmax of the logits of every position in the context, prompt included, to read
  those of the answer's tokens, a cost that grows with the prompt and Qwen2.5's 152k-entry vocabulary;
- for every answer token it sorts the whole vocabulary in Python to read its few most likely entries.
This process gives that module a log-softmax that computes only the rows read, and a `sorted` that
ranks (log-probability, token id) pairs with numpy and returns the 20 best (the OpenAI API's most
`top_logprobs`), for the one call shape it ranks them with; any other call is the builtin. Answers and
their log-probabilities are unchanged (docs/method.md, Log-probabilities on every call, has the
figures). Run as `python -m reversener.llm.llama_server` with llama_cpp.server's arguments, which are then
the only settings it reads (see `isolate`).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import MutableMapping
from typing import Any, cast

import llama_cpp.llama
import numpy as np

TOP = 20  # the most top_logprobs the OpenAI API lets a request ask for

_log_softmax = llama_cpp.llama.Llama.logits_to_logprobs


class _Pairs(zip):
    """The module's zip, keeping what it pairs so that `_ranked` can recognise a vocabulary."""

    sources: tuple[Any, ...]

    def __new__(cls, *iterables, **options):  # options: zip's strict=
        pairs = cast("_Pairs", super().__new__(cls, *iterables, **options))  # typeshed: zip, not cls
        pairs.sources = iterables
        return pairs


def _ranked(iterable, *, key=None, reverse: bool = False):
    if reverse and key is None and isinstance(iterable, _Pairs) and len(iterable.sources) == 2:
        values, ids = iterable.sources
        if isinstance(ids, range) and ids == range(len(values)):  # zip(logprobs, token ids)
            return _best(values)
    return builtins.sorted(iterable, key=key, reverse=reverse)


def _best(values) -> list[tuple]:
    """sorted(zip(values, range(len(values))), reverse=True)[:TOP], ties included, without the sort."""
    array = np.asarray(values)
    k = min(TOP, len(array))
    if k == 0:
        return []
    cut = np.partition(array, -k)[-k]  # the k-th largest value: every pair of the top k is at least that
    return builtins.sorted(((values[i], int(i)) for i in np.flatnonzero(array >= cut)), reverse=True)[:TOP]


class _RowLogprobs:
    """Log-probabilities of a logits matrix, computed for the rows read only."""

    def __init__(self, logits: np.ndarray) -> None:
        self._logits = logits

    def __getitem__(self, rows):
        return _log_softmax(self._logits[rows])


def _logprobs(logits, axis: int = -1):
    if isinstance(logits, np.ndarray) and logits.ndim == 2 and axis in (-1, 1):
        return _RowLogprobs(logits)
    return _log_softmax(logits, axis=axis)


def patch() -> None:
    # module globals shadow the builtins for that module only
    vars(llama_cpp.llama).update(sorted=_ranked, zip=_Pairs)
    llama_cpp.llama.Llama.logits_to_logprobs = staticmethod(_logprobs)  # type: ignore[method-assign]  # replacing it is the point


def isolate(environ: MutableMapping[str, str]) -> list[str]:
    """Remove what llama_cpp.server would read from the environment ahead of or beside its arguments,
    and return the names removed. It binds HOST and PORT over --host and --port, so a backend started
    with PORT=9090 had its model server take the backend's own port; its settings classes also read
    every field (API_KEY, N_CTX, ...) from the environment when no argument names it."""
    from llama_cpp.server.settings import Settings

    names = {name.upper() for name in Settings.model_fields} | {"HOST", "PORT", "CONFIG_FILE"}
    removed = [key for key in environ if key.upper() in names]
    for key in removed:
        del environ[key]
    return removed


if __name__ == "__main__":
    from llama_cpp.server.__main__ import main

    isolate(os.environ)
    patch()
    main()
