"""LLM access: the client Protocol, the litellm gateway, its response cache and the local server."""

from .client import Completion, LLMClient, LLMReply, LLMRequest, LLMStats

__all__ = ["Completion", "LLMClient", "LLMReply", "LLMRequest", "LLMStats"]
