"""Only the right callers get in: basic auth, the webhook secret, the request size limit."""

from __future__ import annotations

import base64

import pytest

from backend.app import create_app

from .test_api import payload


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def secured(services):
    services.settings = type(services.settings).model_validate({
        **services.settings.model_dump(), "basic_auth_user": "ls", "basic_auth_pass": "s3cret",
        "webhook_secret": "hook-secret", "max_request_bytes": 200_000})
    return create_app(services).test_client()


def test_health_is_open_everything_else_needs_credentials(secured):
    assert secured.get("/health").status_code == 200
    for method, path in [("post", "/setup"), ("post", "/predict"), ("post", "/webhook"), ("get", "/metrics")]:
        response = getattr(secured, method)(path, json={})
        assert response.status_code == 401 and response.get_json()["message"] == "authentication required"
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_right_basic_auth_passes_and_wrong_fails(secured):
    assert secured.post("/setup", json=payload("setup"), headers=_basic("ls", "s3cret")).status_code == 200
    assert secured.post("/setup", json=payload("setup"), headers=_basic("ls", "wrong")).status_code == 401


def test_an_unauthenticated_webhook_cannot_change_a_library(secured, services):
    assert secured.post("/webhook", json=payload("annotation_created")).status_code == 401
    wrong = {"X-Webhook-Secret": "guess"}
    assert secured.post("/webhook", json=payload("annotation_created"), headers=wrong).status_code == 401
    services.jobs.drain()
    assert services.store.human_examples("7") == [] and services.store.revision("7") == 0


def test_a_webhook_with_the_shared_secret_is_accepted(secured, services):
    response = secured.post("/webhook", json=payload("annotation_created"), headers={"X-Webhook-Secret": "hook-secret"})
    assert response.status_code == 201
    services.jobs.drain()
    assert len(services.store.human_examples("7")) == 1


def test_the_secret_header_does_not_open_other_routes(secured):
    response = secured.post("/predict", json=payload("predict"), headers={"X-Webhook-Secret": "hook-secret"})
    assert response.status_code == 401


def test_oversized_bodies_get_413_as_json(secured):
    body = payload("predict")
    body["tasks"][0]["data"]["text"] = "x " * 150_000
    response = secured.post("/predict", json=body, headers=_basic("ls", "s3cret"))
    assert response.status_code == 413 and response.get_json()["status"] == "error"


def test_projects_are_namespaced_in_redis(client, services, redis_client):
    client.post("/webhook", json=payload("annotation_created"))
    services.jobs.drain()
    assert services.store.human_examples("8") == []  # another project sees nothing
    prefix = f"{services.settings.redis_prefix}:p:7:"
    assert all(k.decode().startswith(prefix) for k in redis_client.scan_iter(f"{services.settings.redis_prefix}:*"))
