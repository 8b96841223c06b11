"""The operator's day (issue 13): `explain` on an agent with no running screen, `doctor`
on tmux, `init`'s starter. Real tmux on a private socket, the real `agents` command."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import wait_until

from agent_orchestrator import config as config_mod
from agent_orchestrator.core import explain


def agents(*args: str, cwd: Path | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=30, check=False)


# ----------------------------------------------------------------------------- explain

EXITS = """
[backend.quits]
bin = "sh -c 'exit 3'"
process_name = "sh"

[[agent]]
name = "quits"
backend = "quits"
watch = "none"

[[agent]]
name = "demo"
backend = "demo"
watch = "none"
prompt = "hello"
"""


def explained(path: Path, name: str) -> dict:
    result = agents("explain", name, "--json", "--config", str(path))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.tmux
def test_explain_says_stopped_exited_instead_of_idle_or_a_tmux_error(
        make_config: Callable[..., Path], tmux_socket: str) -> None:
    path = make_config(EXITS, socket=tmux_socket)
    plain = agents("explain", "demo", "--config", str(path))  # no tmux server at all
    assert plain.returncode == 0, plain.stderr
    assert "demo (demo): stopped" in plain.stdout and "agents up demo" in plain.stdout
    assert "no running screen" in plain.stdout and "error" not in plain.stderr.lower()

    assert agents("up", "quits", "demo", "--config", str(path)).returncode == 0
    body = wait_until(lambda: (b := explained(path, "quits"))["state"] == "exited" and b,
                      what="the quitting agent to show as exited")
    assert body["why"].startswith("exited (3)") and "agents logs quits" in body["why"]
    assert set(body["matches"].values()) == {None}

    live = wait_until(lambda: (b := explained(path, "demo"))["state"] in ("idle", "active")
                      and b, what="the demo agent judged on its screen")
    assert live["agent"] == "demo" and live["notes"] != ["no running screen: nothing was judged"]
    assert agents("down", "demo", "--config", str(path)).returncode == 0
    assert explained(path, "demo")["state"] == "stopped"
    agents("down", "--config", str(path))


@pytest.mark.parametrize(("state", "words"), [
    ("crash-looping", "stopped restarting it"), ("done", "phase set N"),
    ("disabled", "enabled = false"), ("backoff", "back-off")])
def test_not_running_says_what_the_state_means(state: str, words: str) -> None:
    backend = config_mod.builtin_backend("codex")
    result = explain.not_running(state, state, backend, "a")
    assert result is not None and result.state == state and words in result.why
    assert result.agent == "a" and result.patterns["limit_re"] is not None


@pytest.mark.parametrize("state", ["running", "idle", "active", "limited", "dialog"])
def test_a_running_screen_is_judged(state: str) -> None:
    assert explain.not_running(state, state, config_mod.builtin_backend("codex"), "a") is None
