"""The deployment files agree with the code: the compose file parses, names only real settings, and
builds the images the Dockerfile defines; the Dockerfile runs unprivileged and checks its health."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from backend.settings import BackendSettings

from .backend.conftest import ROOT

SETTINGS = {name.upper() for name in BackendSettings.model_fields}
DOCKERFILE = (ROOT / "Dockerfile").read_text("utf-8")


@pytest.fixture(scope="module")
def compose() -> dict:
    """The compose file as docker-compose resolves it (Debian's package; .ci/run installs it)."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose; CI installs it)")
    done = subprocess.run(["docker-compose", "config"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_every_env_name_of_our_services_is_a_setting(compose):
    for name in ("llm", "backend", "worker"):
        unknown = set(compose["services"][name]["environment"]) - SETTINGS
        assert not unknown, f"{name}: {unknown} are not settings, so they would be ignored"


def test_with_no_llm_setting_backends_and_workers_share_the_llm_service(compose):
    services = compose["services"]
    for name in ("backend", "worker"):
        env = services[name]["environment"]
        assert (env["LLM_MODEL"], env["LLM_API_BASE"]) == ("openai/local", "http://llm:8000/v1")
        assert services[name]["build"]["target"] == "backend"
    assert services["llm"]["build"]["target"] == "llm"
    assert services["worker"]["command"] == ["reversener", "worker"]
    assert "--appendonly" in services["redis"]["command"]  # corrections survive a Redis restart


def test_the_dockerfile_defines_the_targets_runs_unprivileged_and_checks_health():
    stages = re.findall(r"^FROM \S+ AS (\S+)", DOCKERFILE, re.MULTILINE)
    assert {"base", "llama-build", "app", "backend", "llm"} <= set(stages)
    for target in ("backend", "llm"):
        stage = DOCKERFILE.split(f" AS {target}\n", 1)[1].split("\nFROM ", 1)[0]
        assert "USER reversener" in stage and "HEALTHCHECK" in stage, target
        assert "build-essential" not in stage and "cmake" not in stage, target
    # Dependencies install before the source is copied, so a code change does not reinstall torch.
    assert DOCKERFILE.index("pip install -r /tmp/requirements.txt") < DOCKERFILE.index("COPY reversener")


def test_the_build_context_is_only_what_the_image_needs():
    rules = [line for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
             if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out (virtualenvs, results, .git), then back in only:
    assert {r for r in rules if r.startswith("!")} == {"!pyproject.toml", "!README.md", "!reversener/", "!backend/"}
    for copied in re.findall(r"^COPY (?!--from)(.+?) \S+$", DOCKERFILE, re.MULTILINE):
        assert all(f"!{path.rstrip('/')}" in {r.rstrip("/") for r in rules} for path in copied.split()), copied
