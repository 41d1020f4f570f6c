"""Every LLM call goes through litellm here: bounded concurrency, timeouts, retries, samples, cache."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import copy
import functools
import heapq
import itertools
import json
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import LLMError, LLMTimeout
from .cache import Answer, ResponseCache, cache_key
from .client import Completion, LLMReply, LLMRequest, LLMStats, Progress, TokenLogprobs

if TYPE_CHECKING:
    import aiohttp

__all__ = ["LiteLLMGateway", "stop_all"]

log = logging.getLogger(__name__)


@functools.cache
def _litellm():
    """litellm, imported on first use: its import takes seconds, and neither the direct transport (the
    bundled model, any OpenAI-compatible endpoint) nor a command that makes no call needs it."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else it fetches a price map at import
    import litellm

    litellm.suppress_debug_info = True
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)  # it logs every call at INFO
    return litellm


@functools.cache
def _transient_errors() -> tuple[type[Exception], ...]:
    """litellm's errors worth another try: the same request may succeed a moment later."""
    errors = _litellm().exceptions
    return (errors.Timeout, errors.RateLimitError, errors.APIConnectionError, errors.InternalServerError,
            errors.ServiceUnavailableError, errors.BadGatewayError)


class LiteLLMGateway:
    """An LLMClient over any litellm model string, with one event loop shared by all caller threads."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        retry_budget: float = 300.0,
        concurrency: int = 8,
        json_mode: bool = True,
        cache: ResponseCache | None = None,
        seed: int = 0,
        use_n: bool | None = None,
        backoff: float = 1.0,
        label: str | None = None,
        transport: str = "litellm",
    ) -> None:
        # `label` names the model in caches and reports when the litellm string is only an alias.
        # `transport`: "litellm", "direct" (an OpenAI-compatible endpoint over aiohttp), or "auto"
        # (direct where the model is one, litellm elsewhere).
        self.model = label or model
        self._litellm_model = model
        self.stats = LLMStats()
        self._api_key = api_key
        urls: list[str | None] = [url.strip() for url in (api_base or "").split(",") if url.strip()]
        self._endpoints = [_Endpoint(url, concurrency) for url in urls or [None]]
        self._timeout, self._retries, self._budget = timeout, retries, retry_budget
        self._json_mode, self._cache = json_mode, cache
        self._seed, self._backoff = seed, backoff
        self._priority = 0  # see background()
        compatible = bool(urls) and model.startswith(_Direct.PREFIXES)
        if transport == "direct" and not compatible:
            raise ValueError(f"LLM_TRANSPORT=direct needs an OpenAI-compatible model ({', '.join(_Direct.PREFIXES)}"
                             f"<name>) and LLM_API_BASE; got {model!r} at {api_base!r}")
        if transport not in ("litellm", "direct", "auto"):
            raise ValueError(f"unknown LLM transport {transport!r}: use litellm, direct or auto")
        direct = transport == "direct" or (transport == "auto" and compatible)
        self._transport: _Direct | _LiteLLM = _Direct() if direct else _LiteLLM()
        self._use_n = self._transport.supports(model, "n") if use_n is None else use_n
        self._supports_json = self._transport.supports(model, "response_format")

    # --- public ---
    def complete(self, requests: Sequence[LLMRequest], progress: Progress | None = None) -> list[LLMReply]:
        """Replies in request order."""
        if not _STOPPING.is_set():
            work = self._complete_all(requests, progress)
            future: Future = asyncio.run_coroutine_threadsafe(work, _shared_loop())
            try:
                return future.result()
            except CancelledError:
                if not _STOPPING.is_set():
                    raise
        return [LLMReply(error=self._abandoned()) for _ in requests]

    def cached(self, request: LLMRequest) -> LLMReply | None:
        """The request's reply from the response cache, without calling the LLM; None if any sample is missing."""
        if self._cache is None:
            return None
        keys = self._keys(request.as_chat(), self._params(request), request.samples)
        found = self._cache.get_many(keys)
        return LLMReply(_completions(found, keys)) if len(found) == len(keys) else None

    def _abandoned(self) -> LLMError:
        return LLMError(f"{self.model}: the process is stopping; call abandoned")

    def background(self) -> LiteLLMGateway:
        """This gateway (same slots, cache and counters) for background work such as library builds:
        whenever a slot frees, its calls wait behind every interactive call. This is the one way
        background work yields to predictions, because it works per call: a /predict waits at most for
        the background calls already in flight (one on the one-slot local model). Waiting before each
        batch until no prediction is pending would not do: a batch that started a moment before a
        /predict would hold all its calls ahead of it."""
        view = copy.copy(self)
        view._priority = 1
        return view

    # --- internals ---

    async def _complete_all(self, requests: Sequence[LLMRequest], progress: Progress | None) -> list[LLMReply]:
        _PRIORITY.set(self._priority)  # the tasks gather() makes inherit it
        async def one(request: LLMRequest) -> LLMReply:
            try:
                return LLMReply(await self._complete_one(request))
            except LLMError as err:
                self.stats.add(failures=1)
                log.log(logging.INFO if _STOPPING.is_set() else logging.WARNING, "LLM request failed: %s", err)
                return LLMReply(error=err)
            finally:
                if progress is not None:
                    progress(1)

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _complete_one(self, request: LLMRequest) -> tuple[Completion, ...]:
        messages = request.as_chat()
        params = self._params(request)
        keys = self._keys(messages, params, request.samples)
        found = self._cache.get_many(keys) if self._cache is not None else {}
        for answer in found.values():
            self.stats.add(cache_hits=1, cached_prompt_tokens=answer.prompt_tokens,
                           cached_completion_tokens=answer.completion_tokens, cached_seconds=answer.seconds)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            fresh = await self._sample(messages, params, missing)
            for i, answer in zip(missing, fresh, strict=True):
                found[keys[i]] = answer
                if self._cache is not None:
                    self._cache.put(keys[i], answer)
        return _completions(found, keys)

    def _keys(self, messages: list[dict], params: dict, samples: int) -> list[str]:
        return [cache_key(self.model, messages, params, i) for i in range(samples)]

    def _params(self, request: LLMRequest) -> dict:
        params: dict[str, object] = {"temperature": request.temperature, "max_tokens": request.max_tokens}
        if request.json_mode and self._json_mode and self._supports_json:
            params["response_format"] = {"type": "json_object"}
        if request.logprobs:  # providers without them drop these (drop_params) and answer plainly
            params |= {"logprobs": True, "top_logprobs": 1}
        return params

    async def _sample(self, messages: list[dict], params: dict, indices: list[int]) -> list[Answer]:
        """Answers for the given sample indices: one call with n where possible, else one call each."""
        answers: list[Answer] = []
        if self._use_n and len(indices) > 1:
            answers = (await self._call(messages, params, n=len(indices), seed=self._seed + indices[0]))[
                : len(indices)
            ]
        rest = indices[len(answers) :]
        calls = [self._call(messages, params, n=1, seed=self._seed + i) for i in rest]
        for answer in await asyncio.gather(*calls):
            answers.append(answer[0] if answer else Answer(""))
        return answers

    async def _call(self, messages: list[dict], params: dict, *, n: int, seed: int) -> list[Answer]:
        # The retry budget counts from the first answer asked for, not from the call's place in the
        # queue: behind a batch at one slot, waiting alone would leave no time for a retry.
        asked: list[float] = []
        attempt = 0
        while True:
            if _STOPPING.is_set():
                raise self._abandoned()
            endpoint = self._pick()
            try:
                answers = await self._call_once(endpoint, messages, params, n=n, seed=seed, asked=asked)
                endpoint.recovered()
                return answers
            except _Rerouted:
                continue  # its endpoint failed while it waited for a slot there: not an attempt
            except asyncio.CancelledError:
                if _STOPPING.is_set():  # stop_all() cancelled it: abandoned, not retried
                    raise self._abandoned() from None
                raise
            except _Transient as err:
                if _STOPPING.is_set():
                    raise self._abandoned() from err
                if len(self._endpoints) > 1:
                    endpoint.failed()
                # Another endpoint that is up takes the retry at once; a lone endpoint gets time to recover.
                elsewhere = len(self._endpoints) > 1 and self._pick().up
                delay = 0.0 if elsewhere else self._backoff * 2**attempt * (0.5 + random.random())
                deadline = (asked[0] if asked else time.monotonic()) + self._budget
                if attempt == self._retries or time.monotonic() + delay > deadline:
                    kind = LLMTimeout if err.timeout else LLMError
                    raise kind(f"{self.model}: {err.kind} after {attempt + 1} tries: {err}") from err
                log.info("LLM %s (%s at %s), retry %d in %.1fs", err.kind, self.model, endpoint.url,
                         attempt + 1, delay)
                attempt += 1
                await asyncio.sleep(delay)

    def _pick(self) -> _Endpoint:
        """The least busy endpoint that is up; when all rest after failures, the first to come back."""
        up = [e for e in self._endpoints if e.up]
        if not up:
            return min(self._endpoints, key=lambda e: e.down_until)
        return min(up, key=lambda e: e.slots.load)

    async def _call_once(self, endpoint: _Endpoint, messages: list[dict], params: dict, *, n: int,
                         seed: int, asked: list[float]) -> list[Answer]:
        """One try; the first try of a call notes in `asked` when it got its slot."""
        async with endpoint.slots.slot(_PRIORITY.get()):
            if not endpoint.up and any(e.up for e in self._endpoints):
                raise _Rerouted
            started = time.monotonic()
            if not asked:
                asked.append(started)
            reply = await self._transport.chat(self._litellm_model, endpoint.url, self._api_key, messages,
                                               {**params, "seed": seed, **({"n": n} if n > 1 else {})},
                                               self._timeout)
            elapsed = time.monotonic() - started
        self.stats.add(calls=1, seconds=elapsed, prompt_tokens=reply.prompt_tokens,
                       completion_tokens=reply.completion_tokens)
        share = max(1, len(reply.choices))  # with n, one call's cost is split over its answers
        return [Answer(text, reply.prompt_tokens // share, reply.completion_tokens // share, elapsed / share, logprobs)
                for text, logprobs in reply.choices]


@dataclass
class _Reply:
    choices: list[tuple[str, TokenLogprobs | None]]
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Transient(Exception):
    """A failure worth another try (timeout, 429, 5xx, connection): the same call may work later."""

    def __init__(self, kind: str, message: str, timeout: bool = False) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.timeout = kind, timeout


class _LiteLLM:
    """Every provider litellm knows."""

    @staticmethod
    def supports(model: str, param: str) -> bool:
        try:
            return param in (_litellm().get_supported_openai_params(model=model) or [])
        except Exception:  # litellm raises assorted errors for unmapped models; then just ask plainly
            return False

    async def chat(self, model: str, url: str | None, key: str | None, messages: list[dict], params: dict,
                   timeout: float) -> _Reply:
        import openai

        litellm = _litellm()
        try:
            response = await litellm.acompletion(model=model, messages=messages, api_base=url, api_key=key,
                                                 timeout=timeout, drop_params=True, num_retries=0, **params)
        except _transient_errors() as err:
            raise _Transient(type(err).__name__, str(err), isinstance(err, litellm.exceptions.Timeout)) from err
        except openai.OpenAIError as err:  # litellm's errors all derive from openai's
            raise LLMError(f"{model}: {type(err).__name__}: {err}") from err
        usage = getattr(response, "usage", None)
        return _Reply([(c.message.content or "", _token_logprobs(c)) for c in response.choices],
                      getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0)


class _Direct:
    """OpenAI-compatible endpoints (llama.cpp, vLLM, Ollama's /v1, `openai/` with a base URL) over one
    aiohttp session per process: the same request litellm would send, without litellm's per-call
    work (speed.py measures both). `model` is a litellm string; its provider prefix is dropped."""

    PREFIXES = ("openai/", "hosted_vllm/")
    _session: aiohttp.ClientSession | None = None  # every gateway's, on the one shared loop

    @staticmethod
    def supports(model: str, param: str) -> bool:
        """The OpenAI chat API has both `n` and `response_format`; a server that lacks one ignores it."""
        return param in ("n", "response_format")

    async def chat(self, model: str, url: str | None, key: str | None, messages: list[dict], params: dict,
                   timeout: float) -> _Reply:
        import aiohttp  # here, not at import: a command that makes no call should not pay for it

        if _Direct._session is None:  # made on the shared loop, which it lives on
            _Direct._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        name = next((model[len(p):] for p in self.PREFIXES if model.startswith(p)), model)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            async with _Direct._session.post(f"{(url or '').rstrip('/')}/chat/completions", headers=headers,
                                          json={"model": name, "messages": messages, **params},
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                status, body = response.status, await response.text()
        except TimeoutError as err:
            raise _Transient("Timeout", f"no answer within {timeout:.0f}s", timeout=True) from err
        except aiohttp.ClientError as err:
            raise _Transient("APIConnectionError", str(err)) from err
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}", body[:300])
        if status >= 400:
            raise LLMError(f"{model}: HTTP {status}: {body[:300]}")
        try:
            data = json.loads(body)
            choices = [(c["message"].get("content") or "", _token_logprobs(c)) for c in data["choices"]]
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise LLMError(f"{model}: not an OpenAI chat completion: {body[:200]!r}") from err
        usage = data.get("usage") or {}
        return _Reply(choices, usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)


_PRIORITY: contextvars.ContextVar[int] = contextvars.ContextVar("llm_priority", default=0)


class _Rerouted(Exception):
    """A call's endpoint failed while the call waited for one of its slots: pick again."""


class _Endpoint:
    """One base URL of the model, with its own bound on calls in flight; after a transient failure
    it rests (10 s, doubling to 5 min) and the others take its calls."""

    REST, MAX_REST = 10.0, 300.0

    def __init__(self, url: str | None, concurrency: int) -> None:
        self.url = url
        self.slots = _PrioritySlots(concurrency)
        self.down_until = 0.0
        self._failures = 0

    @property
    def up(self) -> bool:
        return self.down_until <= time.monotonic()

    def failed(self) -> None:
        self._failures += 1
        self.down_until = time.monotonic() + min(self.MAX_REST, self.REST * 2 ** (self._failures - 1))
        log.warning("LLM endpoint %s failed; its calls go to the others for %.0f s", self.url,
                    self.down_until - time.monotonic())

    def recovered(self) -> None:
        if self._failures:
            log.info("LLM endpoint %s answers again", self.url)
        self._failures, self.down_until = 0, 0.0


class _PrioritySlots:
    """A semaphore whose waiters are served by priority (lower first), then by arrival.
    Used only on the gateway's event loop thread, so it needs no lock."""

    def __init__(self, slots: int) -> None:
        self._slots = slots
        self._free = slots
        self._waiters: list[tuple[int, int, asyncio.Future]] = []
        self._arrivals = itertools.count()

    @property
    def load(self) -> int:
        """Calls holding a slot or waiting for one."""
        return self._slots - self._free + len(self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self, priority: int):
        if self._free > 0 and not self._waiters:
            self._free -= 1
        else:
            granted = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (priority, next(self._arrivals), granted))
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    self._release()
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            granted = heapq.heappop(self._waiters)[2]
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1


_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_all() -> None:
    """The process is stopping: cancel every call in flight and refuse new ones, so no work is
    retried while the interpreter shuts down and nothing waits for an answer that will not come."""
    _STOPPING.set()
    with _LOOP_LOCK:
        loop = _LOOP
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])


@atexit.register
def _close_session() -> None:
    """Closes the direct transport's session while its loop still runs: left to the garbage collector at
    interpreter exit, aiohttp reports it unclosed through logging that is already torn down (two
    tracebacks on stderr after every command)."""
    with _LOOP_LOCK:
        loop = _LOOP
    session = _Direct._session
    if session is not None and loop is not None and loop.is_running():
        with contextlib.suppress(Exception):  # exiting anyway; a session that will not close is harmless
            asyncio.run_coroutine_threadsafe(session.close(), loop).result(timeout=5)


def _shared_loop() -> asyncio.AbstractEventLoop:
    """One event loop thread per process serves every gateway and every calling thread, so a
    gateway's concurrency bound holds across threads and litellm's helpers live on one loop."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = asyncio.new_event_loop()
            threading.Thread(target=_LOOP.run_forever, name="llm-gateway", daemon=True).start()
        return _LOOP


def _completions(found: dict[str, Answer], keys: list[str]) -> tuple[Completion, ...]:
    return tuple(Completion(found[key].text, found[key].logprobs) for key in keys)


def _token_logprobs(choice) -> TokenLogprobs | None:
    """The (token, log-probability) pairs of one choice, or None where the provider sent none."""
    logprobs = choice.get("logprobs") if isinstance(choice, dict) else getattr(choice, "logprobs", None)
    content = logprobs.get("content") if isinstance(logprobs, dict) else getattr(logprobs, "content", None)
    if not content:
        return None
    pairs = []
    for item in content:
        item = item if isinstance(item, dict) else item.model_dump()
        if not isinstance(item.get("token"), str) or not isinstance(item.get("logprob"), (int, float)):
            return None  # a shape we do not know: no scores rather than wrong ones
        pairs.append((item["token"], float(item["logprob"])))
    return tuple(pairs)
