"""The fake model server on its own (no CLI, no node): runs in the default test run."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from fakemodel import FakeModel

pytestmark = pytest.mark.offline

MSG = {
    "model": "m",
    "max_tokens": 10,
    "tools": [{"name": "Bash", "input_schema": {}}],
    "messages": [{"role": "user", "content": "hi"}],
}
SIDE = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "title?"}]}


def post(fake: FakeModel, path: str, body: dict) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(
        fake.base_url + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


@pytest.fixture
def fake():
    server = FakeModel().start()
    yield server
    server.stop()


def test_ok_answer_and_request_log(fake: FakeModel) -> None:
    status, _, body = post(fake, "/v1/messages", MSG)
    assert status == 200 and "FAKE-LLM reply #1" in body
    deadline = time.monotonic() + 2  # a request is logged once its answer is sent
    while not fake.prompts() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.prompts() == ["hi"]
    assert fake.model_requests()[0]["api"] == "anthropic"


def test_count_and_main_only_make_a_retry_succeed(fake: FakeModel) -> None:
    fake.set("overloaded", count=2, main_only=True)
    assert post(fake, "/v1/messages", SIDE)[0] == 200  # a side request: untargeted
    assert post(fake, "/v1/messages", MSG)[0] == 529
    assert post(fake, "/v1/messages", MSG)[0] == 529
    assert post(fake, "/v1/messages", MSG)[0] == 200  # count used up: plain ok


def test_usage_limit_advertises_the_reset(fake: FakeModel) -> None:
    fake.set("ratelimit", flavor="usage", reset_in=3600)
    status, headers, _ = post(fake, "/v1/messages", MSG)
    assert status == 429
    assert headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert int(headers["anthropic-ratelimit-unified-reset"]) > 0
    status, headers, body = post(fake, "/v1/responses", {"model": "m", "input": "hi"})
    assert status == 429 and json.loads(body)["error"]["type"] == "usage_limit_reached"
    assert headers["x-codex-primary-used-percent"] == "100"


def test_extra_headers_on_plain_answers(fake: FakeModel) -> None:
    fake.set("ok", headers={"x-codex-primary-used-percent": 42})
    _, headers, _ = post(fake, "/v1/responses", {"model": "m", "input": "hi"})
    assert headers["x-codex-primary-used-percent"] == "42"
