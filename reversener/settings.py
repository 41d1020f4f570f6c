"""The one place that reads the environment: every knob, its env var and its default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .config import MethodConfig

__all__ = ["Settings"]


class Settings(BaseSettings, MethodConfig):
    """Settings for the engine, the CLI and the backend; env vars are the field names in capitals.

    The method's knobs come from MethodConfig, so their defaults live in one place.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- LLM gateway ---
    llm_model: str | None = Field(
        None, description="Any litellm model string; unset = the bundled local model."
    )
    llm_api_base: str | None = Field(
        None, description="Base URL for OpenAI-compatible servers; several, comma-separated (replicas of one model), "
        "share the calls (LLM_CONCURRENCY each): each call goes to the least busy, and one that fails rests 10 s "
        "(doubling to 5 min) while the others take its calls.",
    )
    llm_api_key: SecretStr | None = Field(None, description="API key passed to litellm.")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds per LLM call before it counts as failed.")
    llm_retries: int = Field(3, ge=0, description="Retries of a transient LLM error (429, 5xx, timeout, connection).")
    llm_retry_budget: float = Field(300.0, gt=0, description="Max seconds spent on one request, retries included.")
    llm_concurrency: int | None = Field(
        None, ge=1, description="Parallel LLM calls per endpoint; unset = 1 for the local model (llama.cpp serves "
        "one at a time), 8 otherwise."
    )
    llm_transport: Literal["litellm", "direct", "auto"] = Field(
        "auto",
        description="How calls reach the LLM: litellm (every provider); direct (an OpenAI-compatible endpoint, "
        "openai/ or hosted_vllm/ with LLM_API_BASE, over one aiohttp session, without litellm's per-call work); "
        "auto (direct where possible, the bundled model included). Same retries, cache, counters and errors either "
        "way.",
    )
    llm_json_mode: bool = Field(True, description="Ask for JSON output where the provider supports it.")
    llm_cache: bool = Field(True, description="Persist LLM answers so a rerun costs nothing.")
    llm_seed: int = Field(0, description="Base sampling seed (sample i uses seed + i).")

    # --- embedded local model (used when LLM_MODEL is unset) ---
    local_model_path: Path | None = Field(None, description="A GGUF file to serve instead of the bundled one.")
    local_threads: int = Field(2, ge=1, description="CPU threads of the llama.cpp server.")
    local_context: int = Field(4096, ge=512, description="Context window of the llama.cpp server.")
    local_start_timeout: float = Field(180.0, gt=0, description="Seconds to wait for the llama.cpp server to answer.")

    # --- embeddings ---
    embedding_model: str | None = Field(
        None, description="A sentence-transformers model name or path; unset = bundled all-MiniLM-L6-v2."
    )

    embedding_threads: int | None = Field(
        None, ge=1, description="torch threads for embeddings; unset = 1, the least CPU per text.",
    )
    embedding_dtype: Literal["float32", "bfloat16"] = Field(
        "float32", description="Precision of the embedding model's arithmetic: bfloat16 runs it under torch's "
        "bfloat16 autocast, cheaper on a CPU with native bfloat16 (slower where torch emulates it), but some texts "
        "are then shown other demonstrations, so the measured quality would not hold as is: an opt-in.",
    )

    # --- where files go ---
    data_dir: Path = Field(
        Path.home() / ".cache" / "reversener",
        description="Model file, llama.cpp server state and log, the LLM response cache, embedded Redis.",
    )

    @field_validator("llm_model", "llm_api_base", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        """An empty env var (compose's `LLM_API_BASE=` for an API model) means unset."""
        return None if isinstance(value, str) and not value.strip() else value

    def concurrency(self) -> int:
        if self.llm_concurrency is not None:
            return self.llm_concurrency
        return 1 if self.llm_model is None else 8
