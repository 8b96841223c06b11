"""Reliability case T43 (broken edits): every kind of error loading an edit can raise.

The watchdog reloads agents.toml on each edit; `config.load` raises ConfigError for all of
them (bad bytes, TOML too deep, unresolvable paths, files that are not regular, huge or
untrusted, NUL characters), so each goes through "rejected, keep running": one
`config-rejected` event naming the line, the last good config still in force.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable

import pytest
from conftest import holds_for
from harness import Fleet, demo_agent

from agent_orchestrator.config import filetrust

Edit = Callable[[Fleet, str], str]  # writes a broken edit; returns text in its rejection


def save(fleet: Fleet, data: bytes) -> None:
    tmp = fleet.path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, fleet.path)  # like an editor's save


def with_agent(fleet: Fleet, body: str, extra: str) -> None:
    fleet.write(body + textwrap.dedent(f"""
        [[agent]]
        name = "z"
        backend = "demoa"
        {extra}
    """))


def at(fleet: Fleet, marker: bytes, message: str) -> str:
    """`message` as a rejection gives it: after `agents.toml:N:`, N being the line of the
    saved file that holds `marker` (the line the error is about)."""
    lines = fleet.path.read_bytes().split(b"\n")
    return f"agents.toml:{next(n for n, x in enumerate(lines, 1) if marker in x)}: {message}"


def not_utf8(fleet: Fleet, body: str) -> str:
    save(fleet, (fleet.head + textwrap.dedent(body)).encode() + b'\n# caf\xe9\n')
    return at(fleet, b"caf\xe9", "not valid UTF-8 at byte 6 of the line")


def too_deep(fleet: Fleet, body: str) -> str:
    fleet.write(body + "\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    return "agents.toml: TOML nested too deeply"  # tomllib gives no line for this one


def symlink_loop(fleet: Fleet, body: str) -> str:
    os.symlink(fleet.folder / "loop2", fleet.folder / "loop1")
    os.symlink(fleet.folder / "loop1", fleet.folder / "loop2")
    with_agent(fleet, body, 'prompt_file = "loop1"')
    return at(fleet, b'prompt_file = "loop1"',
              "agent.z.prompt_file: unusable path 'loop1': Symlink loop")


def unknown_home(fleet: Fleet, body: str) -> str:
    with_agent(fleet, body, 'prompt = "go"\ndir = "~no-such-user-t43/x"')
    return at(fleet, b'dir = "~no-such', "agent.z.dir: unusable path '~no-such-user-t43/x'")


def fifo_prompt(fleet: Fleet, body: str) -> str:
    os.mkfifo(fleet.folder / "fifo.md")
    with_agent(fleet, body, 'prompt_file = "fifo.md"')
    return at(fleet, b'prompt_file = "fifo.md"',
              "agent.z.prompt_file: fifo.md is not a regular file")


def huge_prompt(fleet: Fleet, body: str) -> str:
    (fleet.folder / "huge.md").write_bytes(b"x" * (filetrust.MAX_BYTES + 1))
    with_agent(fleet, body, 'prompt_file = "huge.md"')
    return at(fleet, b'prompt_file = "huge.md"', "agent.z.prompt_file: huge.md is "
              "1,048,577 bytes, over the 1,048,576-byte cap")


def nul_model(fleet: Fleet, body: str) -> str:
    with_agent(fleet, body, 'prompt = "go"\nmodel = "m\\u0000x"')
    return at(fleet, b'model = "m', "agent.z.model: contains a NUL character")


def long_name(fleet: Fleet, body: str) -> str:
    with_agent(fleet, body, f'prompt_file = "{"n" * 5000}"')
    return at(fleet, b'prompt_file = "nnn', "agent.z.prompt_file: cannot use 'nnn")


def unclosed_ipv6_url(fleet: Fleet, body: str) -> str:
    fleet.write(body + '\n[notify]\n[[notify.sink]]\nkind = "webhook"\nurl = "http://[::1"\n')
    return at(fleet, b'url = "http://[::1"', "notify.sink[0].url: expected an http:// or "
              "https:// URL with a host")  # was "cannot load: ValueError", with no line


EDITS = [not_utf8, too_deep, symlink_loop, unknown_home, fifo_prompt, huge_prompt, nul_model,
         long_name, unclosed_ipv6_url]


@pytest.mark.tmux
def test_t43_every_broken_edit_is_rejected_and_the_watchdog_keeps_running(make_fleet,
                                                                          tmp_path) -> None:
    """FAULT: on a running fleet, one after another: an edit with a non-UTF-8 byte, TOML
    nested 5,000 deep, a prompt_file in a symlink loop, a `dir` under an unknown `~user`,
    a FIFO and a 1 MiB + 1 file as prompt_file, a NUL in `model`, a 5,000-character file
    name, a webhook URL urlsplit refuses (before: a traceback for most of them, and the
    watchdog died).
    EXPECTED: each is one `config-rejected` event naming it and, where the error has one,
    its line (`agents.toml:N: ...`); the agent is never restarted;
    the last edit (a valid one) is applied (`config-recovered`): the watchdog lived."""
    body = "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path)
    fleet = make_fleet(body)
    result = fleet.agents("up")
    assert result.returncode == 0, result.stderr
    fleet.wait_event("a", "adopt")
    pid = fleet.pane_pid("e-a")
    for count, edit in enumerate(EDITS, start=1):
        needle = edit(fleet, body)
        event = fleet.wait_event(None, "config-rejected", timeout=10, after=count - 1)
        assert needle in event["reason"], (edit.__name__, event["reason"])
    holds_for(lambda: fleet.pane_pid("e-a") == pid, 0.5, what="the agent left alone")
    fleet.write(body + "\n" + demo_agent("b", tmp_path))
    fleet.wait_event(None, "config-recovered", timeout=10)
    fleet.wait_event("b", "added", timeout=10)
    assert fleet.pane_pid("e-a") == pid


def test_t43_anything_else_loading_raises_is_a_rejection_not_a_crash(tmp_path,
                                                                     monkeypatch) -> None:
    """FAULT: loading meets an error no check foresaw (a bug of ours: an agent on a host
    with no `dir` once raised AttributeError). EXPECTED: a ConfigError saying so, which the
    watchdog rejects and `agents check` prints: never a traceback or a dead watchdog."""
    from agent_orchestrator import config as config_mod
    from agent_orchestrator.config import builder

    def broken(self, raw):  # noqa: ANN001, ANN202
        raise AttributeError("'PosixPath' object has no attribute 'startswith'")

    monkeypatch.setattr(builder.Builder, "build", broken)
    path = Fleet(tmp_path, "t43-unused", demo_agent("a", tmp_path)).path
    with pytest.raises(config_mod.ConfigError, match="cannot load: AttributeError: "):
        config_mod.load(path)


def test_t43_agents_check_reports_a_broken_edit_at_its_line(tmp_path) -> None:
    """FAULT: the same kind of broken edit (a NUL in `model`), checked by hand.
    EXPECTED: `agents check` exits 1 and names the file and the line of the bad value,
    as the watchdog's `config-rejected` does; no traceback."""
    body = demo_agent("a", tmp_path)
    fleet = Fleet(tmp_path, "t43-unused", body)
    needle = nul_model(fleet, body)
    assert needle.startswith("agents.toml:") and ": agent.z.model:" in needle
    done = fleet.agents("check")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"{tmp_path}/{needle}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
