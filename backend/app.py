"""The ML-backend protocol Label Studio 1.2x speaks, on Flask: /health /setup /predict /webhook /metrics."""

from __future__ import annotations

import hmac
import logging
import time

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from reversener.corrections import Hints
from reversener.errors import ConfigError

from .errors import BackendError
from .model import ReverseNERModel
from .project import project_id
from .services import Services, get_services, set_services
from .webhooks import spool, submit_webhook

__all__ = ["create_app"]

log = logging.getLogger(__name__)


class ApiError(BackendError):
    """An error the caller can fix; answered as JSON with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(services: Services | None = None) -> Flask:
    services = services or get_services()
    set_services(services)  # in-process jobs find the same services
    spool(services).pending()  # opening it replays what an earlier process left there
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = services.settings.max_request_bytes
    count = services.metrics.add

    def model_for(project: str, label_config: str | None) -> ReverseNERModel:
        config = label_config or services.config(project)
        if not config:
            raise ApiError(422, f"no label config for project {project}: send 'label_config' or call /setup first")
        try:
            model = ReverseNERModel(project, config, services)
        except ConfigError as err:
            raise ApiError(422, str(err)) from err
        if label_config:
            services.remember_config(project, label_config)
        return model

    @app.before_request
    def authenticate():
        if request.path in ("/", "/health") or _authorized(services.settings):
            return None
        count(unauthorized=1)
        response = jsonify(status="error", message="authentication required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="reversener"'
        return response

    @app.get("/health")
    @app.get("/")
    def health():
        try:
            services.redis.ping()
            redis_state = "ok"
        except Exception as err:  # any Redis fault: the backend itself is still up
            redis_state = f"unreachable: {type(err).__name__}"
        return jsonify(status="UP", model_class="ReverseNERModel", redis=redis_state,
                       llm=services.runtime.settings.llm_model or "local")

    @app.post("/setup")
    def setup():
        body = _body()
        project = _project(body)
        model = model_for(project, _required(body, "schema", str))
        if body.get("hostname") and body.get("access_token"):
            services.credentials[project] = (str(body["hostname"]), str(body["access_token"]))
        return jsonify(model_version=model.model_version)

    @app.get("/versions")
    def versions():
        """Label Studio 1.23 asks without naming a project: the current version of each project
        this process has served (one per project: older versions are not kept)."""
        if request.args.get("project"):
            project = _project({"project": request.args["project"]})
            config = services.config(project)
            return jsonify(versions=[model_for(project, config).model_version] if config else [])
        return jsonify(versions=sorted({version for version, _ in services.versions.values()}))

    @app.post("/predict")
    def predict():
        started = time.monotonic()
        body = _body()
        tasks = _required(body, "tasks", list)
        project = _project(body)
        model = model_for(project, body.get("label_config"))
        params = body.get("params") or {}
        results = model.predict(tasks, context=params.get("context") if isinstance(params, dict) else None)
        count(predict_requests=1, predict_seconds=time.monotonic() - started)
        return jsonify(results=results, model_version=model.model_version)  # the version read once

    @app.post("/webhook")
    def webhook():
        body = _body()
        action = _required(body, "action", str)
        project_payload = body.get("project")
        if not isinstance(project_payload, dict):
            project_payload = {}
        project_payload.pop("token", None)  # the project's token is never stored or logged
        project = _project(body)
        model = model_for(project, project_payload.get("label_config"))
        submit_webhook(services, {"action": action, "project": project, "label_config": model.label_config,
                                  "data": {k: v for k, v in body.items() if k != "project"}})
        count(webhooks=1)
        return jsonify(status="accepted", action=action), 201

    @app.get("/memory")
    def memory():
        """What a project's corrections taught about names: each name the memory applies, its label
        ("" for a name annotators only deleted), their agreement and their number of corrections."""
        project = _project({"project": request.args.get("project")})
        agreement = services.settings.memory_agreement
        known = services.memory(project, services.store.revision(project), agreement).known()
        return jsonify(project=project, enabled=services.settings.name_memory, min_agreement=agreement,
                       names=[{"name": name, "label": label, "agreement": round(share, 4), "corrections": votes}
                              for name, (label, share, votes) in known.items()])

    @app.get("/thresholds")
    def thresholds():
        """What a project's corrections say of the LLM's answers: the score thresholds they raised per type
        (LEARN_THRESHOLDS) over MIN_SCORE, the types the model misses (shown in every prompt with
        COVERAGE_DEMONSTRATIONS), those of them the span model adds (SPAN_MODEL), and the names every prompt
        lists (CORRECTION_HINTS)."""
        project = _project({"project": request.args.get("project")})
        method, revision = services.settings.method(), services.store.revision(project)
        return jsonify(project=project, enabled=method.learn_thresholds, min_score=method.min_score,
                       corrections=len(services.scored(project, revision)),
                       min_corrections=method.threshold_corrections,
                       raised=dict(services.thresholds(project, revision).raised),
                       missed_types=list(services.missed_types(project, revision)),
                       coverage_demonstrations=method.coverage_demonstrations,
                       span_model={"enabled": method.span_model, "types": services.span_types(project)},
                       hints=_hints(project, revision))

    def _hints(project: str, revision: int | None) -> dict:
        per_type = services.settings.correction_hints
        hints = services.hints(project, revision) if per_type else Hints({})
        return {"per_type": per_type, "labeled": {label: list(names) for label, names in hints.labeled.items()},
                "deleted": list(hints.deleted)}

    @app.get("/metrics")
    def metrics():
        return jsonify(backend=services.metrics.snapshot(), llm=services.runtime.llm.stats.snapshot()
                       if "llm" in services.runtime.__dict__ else {})

    @app.errorhandler(ApiError)
    def api_error(err: ApiError):
        return jsonify(status="error", message=str(err)), err.status

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return jsonify(status="error", message=err.description), err.code

    @app.errorhandler(Exception)
    def internal_error(err: Exception):
        log.exception("unhandled error on %s", request.path)
        return jsonify(status="error", message=f"internal error: {type(err).__name__}"), 500

    return app


def _authorized(settings) -> bool:
    """Basic auth when configured; a webhook may instead carry the shared secret header."""
    user, password = settings.basic_auth_user, settings.basic_auth_pass
    secret = settings.webhook_secret
    if not (user and password) and not secret:
        return True
    if request.path == "/webhook" and secret:
        sent = request.headers.get("X-Webhook-Secret", "")
        if hmac.compare_digest(sent.encode(), secret.get_secret_value().encode()):
            return True
    if not (user and password):
        return False  # only a secret is configured, and this request did not carry it
    auth = request.authorization
    return bool(auth and auth.type == "basic"
                and hmac.compare_digest((auth.username or "").encode(), user.encode())
                and hmac.compare_digest((auth.password or "").encode(), password.get_secret_value().encode()))


def _body() -> dict:
    """The JSON object sent, whatever the content type says (Label Studio always sends JSON)."""
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    if body is None:
        raise ApiError(400, "the request body is not JSON")
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def _required(body: dict, field: str, kind: type):
    value = body.get(field)
    if not isinstance(value, kind):
        raise ApiError(422, f"'{field}' is missing or not a {kind.__name__}")
    return value


def _project(body: dict) -> str:
    try:
        return project_id(body.get("project"))
    except ValueError as err:
        raise ApiError(422, str(err)) from err
