"""One root for every error the engine raises, each message saying how to fix the problem."""

__all__ = [
    "ReverseNERError",
    "ConfigError",
    "LLMError",
    "LLMTimeout",
    "LocalModelError",
    "ParseError",
    "ReaderError",
    "LibraryError",
]


class ReverseNERError(Exception):
    """Root of all reversener errors."""


class ConfigError(ReverseNERError):
    """A setting or argument is missing or contradicts another."""


class LLMError(ReverseNERError):
    """The LLM could not be reached or kept failing after retries."""


class LLMTimeout(LLMError):
    """The LLM did not answer within the configured time."""


class LocalModelError(ReverseNERError):
    """The bundled local model or its llama.cpp server cannot be prepared."""


class ParseError(ReverseNERError):
    """An LLM answer holds no usable JSON."""


class ReaderError(ReverseNERError):
    """An input file is malformed; the message names the file and line."""


class LibraryError(ReverseNERError):
    """An example library file is malformed or was built for other entity types."""
