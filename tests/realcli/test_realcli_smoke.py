"""Smoke: each real CLI, launched as the presets launch it, gets its kickoff prompt to the
model and goes busy, then idle; its own signals (hooks, notify, plugin events: SIGNALS.md),
wired for this agent only, report the finished turn. One test per CLI and version (a version
two sets share runs once)."""

from __future__ import annotations

import time
import uuid

import clis
import pytest


def _params(only: str | None = None) -> list:
    return [
        pytest.param(cli, set_name, id=f"{cli}-{version}")
        for cli, set_name, version in clis.each_version()
        if only in (None, cli)
    ]


@pytest.mark.parametrize(("cli", "set_name"), _params())
def test_kickoff_reaches_model_busy_then_idle(launch, fake, cli: str, set_name: str) -> None:
    fake.set("ok", delay=4)  # 4 s before the first byte: the busy screen is there
    token = f"kickoff-{uuid.uuid4().hex[:8]}"
    run = launch(cli, set_name, prompt=f"Say hello. Marker {token}.", signals=True)

    busy = run.wait(clis.BUSY[cli], timeout=60)
    assert busy, f"{cli} never showed its busy screen"

    deadline = time.monotonic() + 10
    while not any(token in p for p in fake.prompts()):
        assert time.monotonic() < deadline, f"kickoff never reached the model: {fake.prompts()}"
        time.sleep(0.1)

    idle = run.wait(clis.idle_with(cli, "FAKE-LLM reply"), timeout=30)
    assert idle, f"{cli} did not come back idle with the reply"
    assert not run.pane()["dead"]

    deadline = time.monotonic() + 5
    while "turn-finished" not in run.kinds():
        assert time.monotonic() < deadline, f"no turn-finished signal: {run.signals()}"
        time.sleep(0.1)
    if cli != "codex":  # codex's notify program runs only when a turn completes
        assert run.kinds().index("active") < run.kinds().index("turn-finished")
