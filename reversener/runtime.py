"""Builds the heavy objects (LLM gateway, embedder) from Settings, once per process."""

from __future__ import annotations

import logging
from functools import cached_property, partial

from .embeddings import BatchingEmbedder, Embedder, SentenceTransformerEmbedder
from .llm.cache import ResponseCache
from .llm.client import LLMClient
from .llm.gateway import LiteLLMGateway
from .llm.local import LOCAL_ALIAS, LocalLLMServer, ensure_bundled_model
from .settings import Settings

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """Lazily creates the LLM client and the embedder; starts the local model only when needed."""

    def __init__(self, settings: Settings | None = None, *, llm: LLMClient | None = None,
                 embedder: Embedder | None = None) -> None:
        """`llm` and `embedder` replace the ones the settings describe (tests, embedding apps)."""
        self.settings = settings or Settings()
        self.local_server: LocalLLMServer | None = None
        if llm is not None:
            self.__dict__["llm"] = llm
        if embedder is not None:
            self.__dict__["embedder"] = embedder

    @cached_property
    def embedder(self) -> Embedder:
        # One torch thread: a second costs more CPU per text than it saves, and beside the bundled
        # llama.cpp server it only spins against it (docs/configuration.md, EMBEDDING_THREADS).
        embedder = SentenceTransformerEmbedder(self.settings.embedding_model,
                                               threads=self.settings.embedding_threads or 1,
                                               dtype=self.settings.embedding_dtype)
        return BatchingEmbedder(embedder)

    @cached_property
    def llm(self) -> LLMClient:
        s = self.settings
        cache = ResponseCache(s.data_dir / "llm-cache.sqlite") if s.llm_cache else None
        gateway = partial(
            LiteLLMGateway,
            timeout=s.llm_timeout, retries=s.llm_retries, retry_budget=s.llm_retry_budget,
            concurrency=s.concurrency(), json_mode=s.llm_json_mode, cache=cache, seed=s.llm_seed,
            transport=s.llm_transport,
        )
        if s.llm_model:
            key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
            return gateway(s.llm_model, api_base=s.llm_api_base, api_key=key)
        model_path = s.local_model_path or ensure_bundled_model(s.data_dir)
        self.local_server = LocalLLMServer(
            model_path, s.data_dir, threads=s.local_threads, context=s.local_context,
            start_timeout=s.local_start_timeout,
        )
        api_base = self.local_server.start()
        # llama.cpp ignores `n`, so samples are separate calls (its prompt cache makes them cheap).
        return gateway(
            f"openai/{LOCAL_ALIAS}", api_base=api_base, api_key="sk-local", use_n=False,
            label=f"local/{model_path.stem}",
        )

    @property
    def background_llm(self) -> LLMClient:
        """The LLM for background work (library builds): it yields to interactive predictions."""
        background = getattr(self.llm, "background", None)
        return background() if callable(background) else self.llm

    def close(self) -> None:
        if self.local_server is not None:
            self.local_server.stop()
