"""LLM access: the client Protocol, the litellm gateway, its response cache and the local server."""

from .client import LLMClient, LLMRequest, LLMStats

__all__ = ["LLMClient", "LLMRequest", "LLMStats"]
