"""llama-cpp-python's OpenAI-compatible server, with its log-probabilities made affordable.

For every generated token llama-cpp-python 0.3 sorts the whole vocabulary (152k entries for Qwen2.5)
in Python to read the few most likely ones (it keeps at most `top_logprobs`): 185 ms per token here, 9 s
on a 50-token answer that takes 5 s to generate. This process gives that module a `sorted` that returns
only the 20 best entries (the OpenAI API's most `top_logprobs`) by `heapq.nlargest`, 14 ms per token,
for the one call shape it ranks them with; any other call is the builtin. Answers are unchanged.
Run as `python -m reversener.llm.llama_server` with llama_cpp.server's arguments.
"""

from __future__ import annotations

import builtins
import heapq

import llama_cpp.llama

TOP = 20  # the most top_logprobs the OpenAI API lets a request ask for


def _ranked(iterable, *, key=None, reverse: bool = False):
    if reverse and key is None and isinstance(iterable, zip):  # zip(logprobs, token ids), best first
        return heapq.nlargest(TOP, iterable)
    return builtins.sorted(iterable, key=key, reverse=reverse)


def patch() -> None:
    llama_cpp.llama.sorted = _ranked  # a module global shadows the builtin for that module only


if __name__ == "__main__":
    from llama_cpp.server.__main__ import main

    patch()
    main()
