"""What one request predicts with, read once: each target's library and the model_version.

The version changes with a new library, Start Training and every VERSION_EVERY corrections, with
the method settings a build does not read, (`.n…`) when the memory of names changes its mind, and
(`.t…`) when the thresholds learned per type change, (`.s…`) when the project's span model adds
types, (`.c…`) the types shown in every prompt, and (`.h…`) the names CORRECTION_HINTS lists in them;
it is `reversener-…` only once every library holds examples, `zero-shot` before."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from reversener.corrections import Hints, NameMemory
from reversener.library import ExampleLibrary
from reversener.span_model import LearnedSpans
from reversener.thresholds import Thresholds

from .project import ProjectConfig, method_tag
from .services import Services

__all__ = ["ModelState", "read_state"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelState:
    """A request's model_version and, per target, its library and whether none is built yet."""

    version: str
    libraries: list[ExampleLibrary | None]
    missing: list[bool]  # per target: no library built yet (False while Redis is unreachable)
    # What the LLM's answers depend on: the version without the memory's part. Answers are kept
    # under it, so a memory that learned a name re-serves them with it, without asking again.
    answers_version: str = ""
    memory: NameMemory | None = None  # None with NAME_MEMORY off
    thresholds: Thresholds = field(default_factory=Thresholds)  # none raised with LEARN_THRESHOLDS off
    cover: tuple[str, ...] = ()  # types shown in every prompt (COVERAGE_DEMONSTRATIONS)
    spans: LearnedSpans | None = None  # None with SPAN_MODEL off
    hints: Hints | None = None  # None with CORRECTION_HINTS off


def read_state(services: Services, config: ProjectConfig) -> ModelState:
    """One Redis round trip, plus library loads when the project's revision moved on; while Redis
    is unreachable, the libraries and version this process last had."""
    project, tag = config.project, f".m{method_tag(services.settings)}"
    try:
        revision, generation, metas = services.store.snapshot(project, list(config.keys))
    except RedisError as err:
        log.warning("Redis unreachable (%s): predicting with the libraries in memory", type(err).__name__)
        libraries = [services.library(project, k, t.types, None)
                     for t, k in zip(config.targets, config.keys, strict=True)]
        version, answers_version = services.versions.get(project, ("zero-shot" + tag,) * 2)
        return ModelState(version, libraries, [False] * len(config.keys), answers_version,
                          _memory(services, project, None), _thresholds(services, project, None),
                          _cover(services, project, None), _spans(services, project, None, None, libraries),
                          _hints(services, project, None))
    libraries = [services.library(project, k, t.types, revision)
                 for t, k in zip(config.targets, config.keys, strict=True)]
    built = [m for m in metas if m is not None and m.get("examples", 1) > 0]
    ready = len(built) == len(metas)
    answers_version = ("reversener-" + "+".join(m["version"][:8] for m in built) if ready else "zero-shot") + tag
    answers_version += f".g{generation}" if generation else ""
    cover = _cover(services, project, revision)
    answers_version += f".c{'+'.join(cover)}" if cover else ""  # the prompts show them: other answers
    hints = _hints(services, project, revision)
    answers_version += f".h{hints.digest()}" if hints else ""  # the same
    memory, thresholds = _memory(services, project, revision), _thresholds(services, project, revision)
    version = answers_version + (f".n{memory.digest()}" if memory and memory.known() else "")
    version += f".t{thresholds.digest()}" if thresholds else ""
    spans = _spans(services, project, revision, generation, libraries)
    version += f".s{spans.digest()}" if spans else ""
    services.versions[project] = (version, answers_version)
    return ModelState(version, libraries, [m is None for m in metas], answers_version, memory, thresholds, cover,
                      spans, hints)


def _memory(services: Services, project: str, revision: int | None) -> NameMemory | None:
    method = services.settings
    return services.memory(project, revision, method.memory_agreement) if method.name_memory else None


def _thresholds(services: Services, project: str, revision: int | None) -> Thresholds:
    return services.thresholds(project, revision) if services.settings.learn_thresholds else Thresholds()


def _cover(services: Services, project: str, revision: int | None) -> tuple[str, ...]:
    return services.missed_types(project, revision) if services.settings.coverage_demonstrations else ()


def _spans(services: Services, project: str, revision: int | None, generation: int | None,
           libraries: list[ExampleLibrary | None]) -> LearnedSpans | None:
    return services.span_model(project, revision, generation, libraries) if services.settings.span_model else None


def _hints(services: Services, project: str, revision: int | None) -> Hints | None:
    return services.hints(project, revision) if services.settings.correction_hints else None
