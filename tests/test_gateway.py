"""The litellm gateway against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import pytest

from reversener.devtools.fake_openai import FakeOpenAIServer, Reply
from reversener.errors import LLMError, LLMTimeout
from reversener.llm.cache import ResponseCache
from reversener.llm.client import Completion, LLMReply, LLMRequest
from reversener.llm.gateway import LiteLLMGateway

TRANSPORT = {"name": "litellm"}


@pytest.fixture(autouse=True, params=["litellm", "direct"])
def transport(request, monkeypatch):
    """Every test runs through litellm and through the direct OpenAI-compatible path: same behaviour."""
    monkeypatch.setitem(TRANSPORT, "name", request.param)
    return request.param


def _gateway(server: FakeOpenAIServer | str, **kwargs) -> LiteLLMGateway:
    kwargs = {"timeout": 5.0, "retries": 2, "backoff": 0.01, "concurrency": 4, "transport": TRANSPORT["name"], **kwargs}
    api_base = server if isinstance(server, str) else server.api_base
    return LiteLLMGateway("openai/fake", api_base=api_base, api_key="sk-test", **kwargs)


def _request(text: str = "hello", **kwargs) -> LLMRequest:
    return LLMRequest((("user", text),), **kwargs)


def _texts(replies: list[LLMReply]) -> list[list[str]]:
    return [reply.texts for reply in replies]


def test_answers_in_request_order_with_usage_counted():
    with FakeOpenAIServer(lambda body: body["messages"][-1]["content"].upper()) as server:
        gateway = _gateway(server)
        answers = gateway.complete([_request("one"), _request("two"), _request("three")])
    assert _texts(answers) == [["ONE"], ["TWO"], ["THREE"]]
    stats = gateway.stats.snapshot()
    assert stats["calls"] == 3 and stats["prompt_tokens"] == 3 and stats["completion_tokens"] == 3


def test_json_mode_and_sampling_parameters_reach_the_server():
    with FakeOpenAIServer(lambda body: "{}") as server:
        _gateway(server).complete([_request(temperature=0.0, max_tokens=77)])
        body = server.requests[0]
    assert body["response_format"] == {"type": "json_object"}
    assert body["temperature"] == 0.0 and body["max_tokens"] == 77 and body["seed"] == 0


def test_json_mode_can_be_turned_off():
    with FakeOpenAIServer(lambda body: "{}") as server:
        _gateway(server, json_mode=False).complete([_request()])
    assert "response_format" not in server.requests[0]


def test_samples_use_n_when_supported():
    with FakeOpenAIServer(lambda body: ["a", "b", "c"]) as server:
        answers = _gateway(server, use_n=True).complete([_request(samples=3, temperature=0.7)])
    assert _texts(answers) == [["a", "b", "c"]]
    assert len(server.requests) == 1 and server.requests[0]["n"] == 3


def test_samples_are_separate_calls_with_distinct_seeds_without_n():
    with FakeOpenAIServer(lambda body: f"seed {body['seed']}") as server:
        answers = _gateway(server, use_n=False).complete([_request(samples=3, temperature=0.7)])
    assert _texts(answers) == [["seed 0", "seed 1", "seed 2"]]
    assert all("n" not in body for body in server.requests)


def test_a_short_n_answer_is_topped_up_with_separate_calls():
    # Servers such as llama.cpp accept n but return one choice.
    with FakeOpenAIServer(lambda body: ["only"]) as server:
        answers = _gateway(server, use_n=True).complete([_request(samples=3, temperature=0.7)])
    assert _texts(answers) == [["only", "only", "only"]] and len(server.requests) == 3


def test_cache_makes_a_rerun_free_and_keeps_its_cost(tmp_path):
    with FakeOpenAIServer(lambda body: "answer") as server:
        first = _gateway(server, cache=ResponseCache(tmp_path / "c.sqlite"))
        first.complete([_request(samples=2, temperature=0.7)])
        second = _gateway(server, cache=ResponseCache(tmp_path / "c.sqlite"))
        answers = second.complete([_request(samples=2, temperature=0.7)])
        calls_made = len(server.requests)
    stats = second.stats.snapshot()
    assert _texts(answers) == [["answer", "answer"]]
    assert stats["calls"] == 0 and stats["cache_hits"] == 2
    assert stats["cached_completion_tokens"] == first.stats.snapshot()["completion_tokens"]
    assert calls_made == 2


def test_logprobs_are_asked_for_returned_and_kept_in_the_cache(tmp_path):
    tokens = [("{", -0.1), ('"a"', -0.7), ("}", -0.2)]
    with FakeOpenAIServer(lambda body: Reply(['{"a"}'], logprobs=[tokens])) as server:
        first = _gateway(server, cache=ResponseCache(tmp_path / "c.sqlite"))
        [fresh] = first.complete([_request(logprobs=True)])
        [cached] = _gateway(server, cache=ResponseCache(tmp_path / "c.sqlite")).complete([_request(logprobs=True)])
        [plain] = first.complete([_request()])
        assert first.cached(_request(logprobs=True)) == fresh and first.cached(_request("new")) is None
    assert server.requests[0]["logprobs"] is True and server.requests[0]["top_logprobs"] == 1
    assert fresh == cached == LLMReply((Completion('{"a"}', tuple(tokens)),))
    assert "logprobs" not in server.requests[1] and plain == LLMReply.of('{"a"}')  # asked again: another key
    assert len(server.requests) == 2


def test_a_cache_written_before_logprobs_keeps_its_answers(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "c.sqlite")
    old.execute("PRAGMA user_version = 2")
    old.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, text TEXT NOT NULL, prompt_tokens INTEGER,"
                " completion_tokens INTEGER, seconds REAL)")
    old.execute("INSERT INTO answers VALUES ('k', 'kept', 5, 2, 0.5)")
    old.commit()
    old.close()
    cache = ResponseCache(tmp_path / "c.sqlite")
    assert cache.get_many(["k"])["k"].text == "kept"
    cache.put("k2", cache.get_many(["k"])["k"])
    assert len(cache) == 2


def test_cache_misses_when_the_prompt_or_params_change(tmp_path):
    with FakeOpenAIServer(lambda body: "x") as server:
        gateway = _gateway(server, cache=ResponseCache(tmp_path / "c.sqlite"))
        gateway.complete([_request("a")])
        gateway.complete([_request("b"), _request("a", max_tokens=10), _request("a")])
    assert len(server.requests) == 3  # only the last request was cached


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(status):
    replies = iter([Reply(status=status), Reply(status=status), Reply(["ok"])])
    with FakeOpenAIServer(lambda body: next(replies)) as server:
        gateway = _gateway(server, retries=2)
        answers = gateway.complete([_request()])
    assert _texts(answers) == [["ok"]] and len(server.requests) == 3


def test_a_request_that_keeps_failing_becomes_an_error_in_its_slot_only():
    def respond(body):
        return Reply(status=500) if body["messages"][-1]["content"] == "bad" else Reply(["fine"])

    with FakeOpenAIServer(respond) as server:
        gateway = _gateway(server, retries=1)
        answers = gateway.complete([_request("good"), _request("bad"), _request("good too")])
    assert answers[0].texts == ["fine"] and answers[2].texts == ["fine"]
    assert isinstance(answers[1].error, LLMError) and "2 tries" in str(answers[1].error)
    assert gateway.stats.snapshot()["failures"] == 1


def test_client_errors_are_not_retried():
    with FakeOpenAIServer(lambda body: Reply(status=400)) as server:
        answers = _gateway(server, retries=3).complete([_request()])
    assert isinstance(answers[0].error, LLMError) and len(server.requests) == 1


def test_timeout_is_reported_as_llm_timeout():
    with FakeOpenAIServer(lambda body: Reply(["late"], delay=1.5)) as server:
        answers = _gateway(server, timeout=0.3, retries=1).complete([_request()])
    assert isinstance(answers[0].error, LLMTimeout)


def test_retry_budget_bounds_total_time():
    with FakeOpenAIServer(lambda body: Reply(status=503)) as server:
        gateway = _gateway(server, retries=50, backoff=0.2, retry_budget=0.5)
        answers = gateway.complete([_request()])
    assert isinstance(answers[0].error, LLMError) and len(server.requests) < 6


def test_a_call_that_waited_for_its_slot_still_gets_its_retries():
    """At one slot, the last of 9 calls waits out the first eight; its own timeout is then retried,
    though the wait alone exceeded the retry budget. (Margins of 0.8 s at least, so that a loaded
    machine does not time out the others or use up the budget in litellm's own handling.)"""
    tries: dict[str, int] = {}

    def respond(body):
        text = body["messages"][-1]["content"]
        tries[text] = tries.get(text, 0) + 1
        late = text == "last" and tries[text] == 1
        return Reply([text], delay=2.0 if late else 0.4)

    with FakeOpenAIServer(respond) as server:
        gateway = _gateway(server, concurrency=1, timeout=1.6, retries=1, retry_budget=2.4)
        answers = gateway.complete([_request(t) for t in ("a", "b", "c", "d", "e", "f", "g", "h", "last")])
    assert [a.error for a in answers] == [None] * 9 and tries["last"] == 2


def test_concurrency_is_bounded():
    with FakeOpenAIServer(lambda body: "x", latency=0.05) as server:
        _gateway(server, concurrency=3).complete([_request(str(i)) for i in range(12)])
    assert server.max_in_flight <= 3 and len(server.requests) == 12


def test_connection_refused_is_an_llm_error():
    gateway = _gateway("http://127.0.0.1:9/v1", retries=1, timeout=2)
    answers = gateway.complete([_request()])
    assert isinstance(answers[0].error, LLMError)


def test_progress_is_called_once_per_request():
    seen = []
    with FakeOpenAIServer(lambda body: "x") as server:
        _gateway(server).complete([_request("a"), _request("b")], progress=seen.append)
    assert seen == [1, 1]


def test_background_calls_wait_behind_interactive_ones():
    import threading
    import time

    with FakeOpenAIServer(lambda body: body["messages"][-1]["content"], latency=0.05) as server:
        gateway = _gateway(server, concurrency=1)
        background = threading.Thread(
            target=gateway.background().complete, args=([_request(f"bg{i}") for i in range(6)],))
        background.start()
        time.sleep(0.08)  # the first background call is in flight, the rest wait
        assert _texts(gateway.complete([_request("interactive")])) == [["interactive"]]
        background.join()
    order = [body["messages"][-1]["content"] for body in server.requests]
    assert order.index("interactive") <= 2, order  # served next, not after the whole batch
    assert gateway.background().stats is gateway.stats


def test_several_endpoints_share_the_calls_each_within_its_concurrency():
    with (FakeOpenAIServer(lambda body: "a", latency=0.05) as one,
          FakeOpenAIServer(lambda body: "b", latency=0.05) as two):
        gateway = _gateway(f"{one.api_base}, {two.api_base}", concurrency=2)
        answers = gateway.complete([_request(str(i)) for i in range(12)])
    assert sorted(a.texts[0] for a in answers) == ["a"] * 6 + ["b"] * 6
    assert one.max_in_flight == two.max_in_flight == 2


def test_a_failing_endpoint_rests_while_the_others_take_its_calls_and_is_used_again_after(monkeypatch):
    from reversener.llm import gateway as module

    monkeypatch.setattr(module._Endpoint, "REST", 0.5)
    healthy = {"on": False}
    with FakeOpenAIServer(lambda body: "good") as good, \
            FakeOpenAIServer(lambda body: "back" if healthy["on"] else Reply(status=503)) as bad:
        gateway = _gateway(f"{bad.api_base},{good.api_base}", backoff=5.0, concurrency=1)
        first = gateway.complete([_request(str(i)) for i in range(6)])
        failed_calls = len(bad.requests)
        healthy["on"] = True
        import time

        time.sleep(0.6)
        later = gateway.complete([_request(f"later {i}") for i in range(4)])
    assert all(a.texts == ["good"] for a in first) and failed_calls == 1  # no 5 s backoff: the other took it
    assert ["back"] in _texts(later)  # rested, then tried again


def test_when_every_endpoint_fails_the_call_fails_within_its_retries():
    with (FakeOpenAIServer(lambda body: Reply(status=503)) as one,
          FakeOpenAIServer(lambda body: Reply(status=503)) as two):
        gateway = _gateway(f"{one.api_base},{two.api_base}", retries=3, concurrency=2)
        answers = gateway.complete([_request(str(i)) for i in range(3)])
    assert all(isinstance(a.error, LLMError) for a in answers)
    assert len(one.requests) + len(two.requests) == 3 * 4  # each request: one try and three retries


def test_a_non_openai_model_cannot_go_direct_and_auto_keeps_it_on_litellm():
    with pytest.raises(ValueError, match="OpenAI-compatible"):
        LiteLLMGateway("anthropic/claude-3-5-haiku", api_key="x", transport="direct")
    anthropic = LiteLLMGateway("anthropic/claude-3-5-haiku", api_key="x", transport="auto")
    assert type(anthropic._transport).__name__ == "_LiteLLM"
    assert type(LiteLLMGateway("openai/m", api_base="http://h/v1", transport="auto")._transport).__name__ == "_Direct"


def test_a_bad_request_is_an_error_at_once_not_retried():
    with FakeOpenAIServer(lambda body: Reply(status=400)) as server:
        answers = _gateway(server, retries=3).complete([_request()])
    assert isinstance(answers[0].error, LLMError) and len(server.requests) == 1
