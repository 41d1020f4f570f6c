"""ReverseNER: zero-shot NER where the LLM writes its own demonstrations by running NER backwards."""

__version__ = "0.1.0"
