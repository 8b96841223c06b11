"""Reliability cases T01–T08 (config): what a bad, half-written, edited or untrusted config
file does to a running fleet and to a cold start.

- T01 config-typo-keeps-last-good     - T05 invalid-and-pathological-regex
- T02 invalid-config-cold-start       - T06 half-written-config
- T03 unknown-keys-rejected           - T07 reload-minimal-diff
- T04 wrong-types-ranges-and-names    - T08 config-file-trust

End-to-end tests run a real fleet of demo agents on a private tmux server (`make_fleet`);
the value checks are table-driven `config.load` calls that must never reach tmux; the
removal debounce of T06 is tested as the pure `reload.hold` on a fake clock, then end to end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import holds_for, sessions, tmux_cmd, wait_until, write_config
from conftest import write_project as write
from harness import Fleet, demo_agent
from test_reload import BASE as RELOAD_BASE  # the three-agent fleet of the reload tests
from test_reload import panes

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Backend, Config, ConfigError, filetrust
from agent_orchestrator.config.schema import NAME_RULE
from agent_orchestrator.config.userregex import RegexError, UserRegex
from agent_orchestrator.core import reload
from agent_orchestrator.core.decisions import Type
from agent_orchestrator.core.memory import AgentMemory, FleetMemory
from agent_orchestrator.core.observed import Now, Observed
from agent_orchestrator.core.screen import classify
from agent_orchestrator.doors import eventlog as events_mod
from agent_orchestrator.doors import markers, memorystore
from agent_orchestrator.doors.tmux import PANE_HEIGHT, PANE_WIDTH, Tmux
from agent_orchestrator.runtime import apply, delivery, launch
from agent_orchestrator.runtime import watchdog as watchdog_mod

HEAD = '[defaults]\nsession_prefix = "t-"\nlog_dir = "logs"\nbackend = "demo"\n'
TOOL = '\n[backend.tool]\nbin = "tool"\n'


# ----------------------------------------------------------------------------- helpers


def cfg(body: str = "") -> str:
    return HEAD + textwrap.dedent(body)


def exact_line(text: str, line: str) -> int:
    """The 1-based number of the one line of `text` that is exactly `line`."""
    hits = [n for n, row in enumerate(text.splitlines(), start=1) if row == line]
    assert len(hits) == 1, f"{line!r} is on lines {hits}, expected exactly one"
    return hits[0]


def line_of(text: str, needle: str) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"needle {needle!r} is on lines {hits}, expected exactly one"
    return hits[0]


@pytest.fixture
def no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must not run anything: no tmux call (nor any other process)."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started during validation: {args!r}")
    monkeypatch.setattr(subprocess, "Popen", refuse)


def rejected(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_mod.load(path)
    return info.value


class Case(NamedTuple):
    id: str
    text: str
    needle: str  # on the line the problem is reported at
    key: str
    message: str
    files: tuple[str, ...] = ()


def check_case(tmp_path: Path, case: Case) -> None:
    path = write(tmp_path, case.text, case.files)
    exc = rejected(path)
    assert str(exc) == f"{path}:{line_of(case.text, case.needle)}: {case.key}: {case.message}"
    assert exc.digest == config_mod.content_digest(path.read_bytes())


def pid_alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def write_in_place(path: Path, text: str) -> None:
    """How a careless writer saves: truncate the file itself, then write into it."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def counters(config: Config, name: str) -> tuple[object, ...]:
    """An agent's start time and counters in the watchdog's saved memory."""
    mem = memorystore.load_memory(config, quarantine=False)[0].agent(name)
    return mem.started_at, mem.starts, mem.restarts, mem.deaths, mem.failures


def up(fleet: Fleet, *names: str) -> dict[str, int]:
    """`agents up`, then wait until the watchdog adopted every agent; their pane pids."""
    result = fleet.agents("up")
    assert result.returncode == 0, result.stderr
    for name in names:
        fleet.wait_event(name, "adopt")
    return {name: fleet.pane_pid(f"e-{name}") for name in names}  # type: ignore[misc]


# ----------------------------------------------------------------------------- T01


@pytest.mark.tmux
def test_t01_config_typo_keeps_last_good(make_fleet, tmp_path) -> None:
    """FAULT: a running fleet of 3 agents; the config is overwritten with a TOML syntax error,
    re-read several times (ticks, a touch), then fixed with an added agent.
    EXPECTED: the last good config stays in force and nobody restarts; ONE `config-rejected`
    event with FILE:LINE, the column and the rejected content's digest (and the digest in
    force); status says `config: stale`; the fix is applied (the new agent starts, the others
    stay) and reported by `config-recovered`."""
    body = "[watchdog]\nsignal_interval = 0.3\n" + "".join(
        demo_agent(n, tmp_path) for n in "abc")
    fleet = make_fleet(body)
    pids = up(fleet, "a", "b", "c")
    good = markers.read_health(config_mod.load(fleet.path))
    assert good is not None and good["ok"]

    broken = fleet.head + textwrap.dedent(body) + "\n[[agent]\nname = 'd'\n"
    fleet.write(body + "\n[[agent]\nname = 'd'\n")
    assert fleet.path.read_text() == broken
    event = fleet.wait_event(None, "config-rejected", timeout=5)
    line = exact_line(broken, "[[agent]")
    assert (f"{fleet.path}:{line}: TOML syntax error at column 8: Expected ']]' at the end "
            "of an array declaration") in event["reason"]
    assert f"rejected content {config_mod.content_digest(broken.encode())})" in event["reason"]
    assert f"last good config ({good['digest']})" in event["reason"]
    os.utime(fleet.path)  # the same broken content read again: not a second event

    def calm() -> bool:
        return (len(fleet.events(None, "config-rejected")) == 1 and
                {n: fleet.pane_pid(f"e-{n}") for n in "abc"} == pids)
    holds_for(calm, 1.0, what="one rejection and no restart over several ticks")
    status = fleet.agents("status")
    assert re.search(r"config: stale \(last good [0-9a-f]+, since \d\d:\d\d\)", status.stdout)
    assert "the config has errors" in status.stderr

    fleet.write(body + "\n[[agent]]\nname = 'd'\nbackend = 'demoa'\nprompt = 'fixed'\n")
    recovered = fleet.wait_event(None, "config-recovered", timeout=5)
    fleet.wait_event(None, "config-reloaded", timeout=5)
    assert config_mod.load(fleet.path).digest in recovered["reason"]
    fleet.wait_event("d", "added")
    wait_until(lambda: "e-d" in sessions(fleet.socket), what="the added agent's session")
    assert {n: fleet.pane_pid(f"e-{n}") for n in "abc"} == pids  # unchanged: not restarted
    health = markers.read_health(config_mod.load(fleet.path))  # what status shows: not stale
    assert health is not None and health["ok"]
    assert not [e for e in fleet.events() if e["event"] in ("restart", "stop", "removed")]


@pytest.mark.tmux
def test_t01_status_names_the_last_good_digest(tmux_socket, tmp_path) -> None:
    """FAULT: the config file is broken while the watchdog runs the last good one.
    EXPECTED: `agents status` says `config: stale (last good <digest>, since <t>)`."""
    fleet = Fleet(tmp_path, tmux_socket, demo_agent("a", tmp_path))  # never up: no teardown
    config = config_mod.load(fleet.path)
    markers.ensure_dirs(config)
    health = {"ok": False, "since": time.time(), "error": "x", "digest": "0123456789ab"}
    markers.health_file(config).write_text(json.dumps(health))
    assert "0123456789ab" in fleet.agents("status").stdout


# ----------------------------------------------------------------------------- T02


@pytest.mark.tmux
@pytest.mark.parametrize(("bad", "line", "message"), [
    ("\n[[agent]\nname = 'x'\n", "[[agent]", "TOML syntax error at column 8"),
    ("\nbogus = 1\n", "bogus = 1", "backend.demoa.bogus: unknown key"),
], ids=["syntax", "unknown-key"])
def test_t02_invalid_config_cold_start_touches_nothing(tmux_socket, tmp_path, bad: str,
                                                        line: str, message: str) -> None:
    """FAULT: no watchdog running, no last-good snapshot, an invalid config; sessions already
    exist on the socket (one named like the agent, one foreign); `agents watchdog` starts.
    EXPECTED: exit 1 with the FILE:LINE error on stderr, no traceback; no session created,
    the existing ones untouched (same pane pids); no log or state folder created."""
    fleet = Fleet(tmp_path, tmux_socket, demo_agent("a", tmp_path) + bad)
    for name in ("e-a", "foreign"):
        assert tmux_cmd(fleet.socket, "new-session", "-d", "-s", name, "sleep 600"
                        ).returncode == 0
    before = {s: fleet.pane_pid(s) for s in ("e-a", "foreign")}
    result = fleet.agents("watchdog")
    assert result.returncode == 1
    text = fleet.path.read_text()
    assert f"{fleet.path}:{exact_line(text, line)}: {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert {s: fleet.pane_pid(s) for s in ("e-a", "foreign")} == before
    assert sessions(fleet.socket) == {"e-a", "foreign"}
    assert not (tmp_path / "logs").exists()


@pytest.mark.tmux
def test_t02_invalid_config_with_snapshot_exits_and_leaves_the_fleet(make_fleet,
                                                                      tmp_path) -> None:
    """FAULT: a fleet ran (so a last-good snapshot exists), its watchdog was stopped, the
    config was then broken, and the watchdog is started again.
    EXPECTED (our choice: never run a possibly old fleet silently): exit 1 with the parse
    error; the running agent is left alone (same pid), the snapshot is kept unchanged, no
    watchdog starts (no `watchdog-start` event)."""
    body = "[watchdog]\nsignal_interval = 30\n" + demo_agent("a", tmp_path)
    fleet = make_fleet(body)
    pids = up(fleet, "a")
    config = config_mod.load(fleet.path)
    snapshot = markers.last_good_file(config.state_dir)
    assert snapshot.read_bytes() == fleet.path.read_bytes()
    dog = int((config.state_dir / "watchdog.lock").read_text())
    os.kill(dog, signal.SIGTERM)
    fleet.wait_event(None, "watchdog-stop")
    wait_until(lambda: not pid_alive(dog), what="the old watchdog to exit")
    fleet.write(body + "\n[[agent]\n")
    starts = len(fleet.events(None, "watchdog-start"))
    result = fleet.agents("watchdog")
    assert result.returncode == 1
    assert f"{fleet.path}:" in result.stderr and "TOML syntax error" in result.stderr
    assert fleet.pane_pid("e-a") == pids["a"]
    assert snapshot.read_bytes() == config.source
    assert len(fleet.events(None, "watchdog-start")) == starts


@pytest.mark.tmux
def test_t02_cold_start_error_names_the_snapshot(tmux_socket, tmp_path) -> None:
    """FAULT: cold start on an invalid config while a last-good snapshot exists.
    EXPECTED: the error on stderr also names the snapshot, so the user knows the old fleet
    was deliberately not started from it."""
    body = demo_agent("a", tmp_path)
    fleet = Fleet(tmp_path, tmux_socket, body)
    config = config_mod.load(fleet.path)
    markers.ensure_dirs(config)
    snapshot = markers.last_good_file(config.state_dir)
    snapshot.write_bytes(config.source)
    fleet.write(body + "\n[[agent]\n")
    result = fleet.agents("watchdog")
    assert result.returncode == 1 and str(snapshot) in result.stderr


# ----------------------------------------------------------------------------- T03/T04/T05


T03_CASES = [
    Case("watchdog-typo", cfg("[watchdog]\nrestart_backof = 5\n"), "restart_backof",
         "watchdog.restart_backof", "unknown key (did you mean 'restart_backoff'?)"),
    Case("watchdog-misspelled", cfg("[watchdog]\nsignal_intervall = 5\n"), "signal_intervall",
         "watchdog.signal_intervall", "unknown key (did you mean 'signal_interval'?)"),
    Case("agent-misspelled", cfg('[[agent]]\nname = "a"\npromt = "hi"\n'), "promt",
         "agent.a.promt", "unknown key (did you mean 'prompt'?)"),
    Case("agent-unknown", cfg('[[agent]]\nname = "foo"\nrestart_dely = 5\n'), "restart_dely",
         "agent.foo.restart_dely", "unknown key"),
    Case("unknown-table", cfg("[watchdgo]\nsignal_interval = 5\n"), "[watchdgo]",
         "watchdgo", "unknown key (did you mean 'watchdog'?)"),
    Case("unknown-subtable", cfg('[[agent]]\nname = "a"\n[agent.limits]\nx = 1\n'),
         "[agent.limits]", "agent.a.limits", "unknown key"),
    Case("backend-unknown", cfg(TOOL + "restart_delay = 5\n"), "restart_delay",
         "backend.tool.restart_delay", "unknown key (did you mean 'connect_delay'?)"),
]


@pytest.mark.parametrize("case", T03_CASES, ids=[c.id for c in T03_CASES])
def test_t03_unknown_keys_rejected(tmp_path: Path, no_processes: None, case: Case) -> None:
    """FAULT: a misspelled key or an unknown table. EXPECTED: the whole config is rejected
    (never a silently ignored key) with FILE:LINE: the key's full path, and a did-you-mean
    when a known key is close; no process is started while validating."""
    check_case(tmp_path, case)


BIG = 2**63
BELOW = " and below 1000000000"  # named only when the value is too large
T04_CASES = [
    Case("int-as-string", cfg('[watchdog]\ncrash_limit = "5"\n'), "crash_limit",
         "watchdog.crash_limit", "got string '5' (expected a whole number >= 1)"),
    Case("enabled-string", cfg('[[agent]]\nname = "a"\nenabled = "false"\n'), "enabled",
         "agent.a.enabled", "got string 'false' (expected true or false)"),
    Case("resume-string", cfg('[[agent]]\nname = "a"\nresume = "true"\n'), "resume",
         "agent.a.resume", "got string 'true' (expected true or false)"),
    Case("choice-bool", cfg('[[agent]]\nname = "a"\nwatch = true\n'), "watch",
         "agent.a.watch", 'got boolean True (expected one of "none", "heal", "heal+stall")'),
    Case("negative-int", cfg("[watchdog]\nstall_grace = -1\n"), "stall_grace",
         "watchdog.stall_grace", "got integer -1 (expected a number >= 0)"),
    Case("stall-negative", cfg(TOOL + "stall_idle = -1\n"), "stall_idle",
         "backend.tool.stall_idle", "got integer -1 (expected a number >= 1)"),
    Case("backoff-inf", cfg("[watchdog]\nrestart_backoff_max = inf\n"), "restart_backoff_max",
         "watchdog.restart_backoff_max", f"got number inf (expected a number >= 0{BELOW})"),
    Case("inf", cfg("[watchdog]\nheavy_interval = inf\n"), "heavy_interval",
         "watchdog.heavy_interval", f"got number inf (expected a number >= 0.1{BELOW})"),
    Case("nan", cfg("[watchdog]\nsignal_interval = nan\n"), "signal_interval",
         "watchdog.signal_interval", "got number nan (expected a number >= 0.1)"),
    Case("2^63", cfg(f"[watchdog]\ncrash_limit = {BIG}\n"), "crash_limit",
         "watchdog.crash_limit", f"got integer {BIG} (expected a whole number >= 1{BELOW})"),
    Case("2^63-1", cfg(f"[watchdog]\ncrash_window = {BIG - 1}\n"), "crash_window",
         "watchdog.crash_window", f"got integer {BIG - 1} (expected a number >= 1{BELOW})"),
    Case("huge-float", cfg("[watchdog]\nrestart_backoff = 1e300\n"), "restart_backoff",
         "watchdog.restart_backoff", f"got number 1e+300 (expected a number >= 0{BELOW})"),
    Case("int-as-float", cfg("[watchdog]\ncrash_limit = 5.0\n"), "crash_limit",
         "watchdog.crash_limit", "got number 5.0 (expected a whole number >= 1)"),
    Case("model-not-string", cfg('[[agent]]\nname = "a"\nmodel = 4\n'), "model = 4",
         "agent.a.model", "got integer 4 (expected a non-empty string)"),
    Case("empty-name", cfg('[[agent]]\nname = ""\n'), 'name = ""', "agent[0].name",
         f"got string '' (expected {NAME_RULE})"),
    Case("empty-backend", cfg('[[agent]]\nname = "a"\nbackend = ""\n'), 'backend = ""',
         "agent.a.backend", "got string '' (expected a non-empty string)"),
    Case("empty-model", cfg('[[agent]]\nname = "a"\nmodel = ""\n'), 'model = ""',
         "agent.a.model", "got string '' (expected a non-empty string)"),
    Case("blank-dir", cfg('[[agent]]\nname = "a"\ndir = "  "\n'), 'dir = "  "',
         "agent.a.dir", "got string '  ' (expected a non-empty string)"),
    Case("empty-prompt-file", cfg('[[agent]]\nname = "a"\nprompt_file = ""\n'),
         "prompt_file", "agent.a.prompt_file", "got string '' (expected a non-empty string)"),
    Case("empty-role", cfg('[[agent]]\nname = "a"\nrole = ""\n'), "role",
         "agent.a.role", f"got string '' (expected {NAME_RULE})"),
    Case("empty-session", cfg('[[agent]]\nname = "a"\nsession = ""\n'), 'session = ""',
         "agent.a.session", f"got string '' (expected {NAME_RULE})"),
    Case("empty-bin", cfg('[backend.tool]\nbin = ""\n'), "bin", "backend.tool.bin",
         "got string '' (expected a non-empty string)"),
    Case("duplicate-name-case", cfg('[[agent]]\nname = "Agent"\n[[agent]]\nname = "agent"\n'),
         'name = "agent"', "agent.agent",
         "duplicate name 'agent' (already used by agent 'Agent')"),
    # tmux turns `.` and `:` into `_`: `a.b` would become the session of `a_b`. Such names
    # are refused outright, so the collision cannot happen.
    Case("dot-vs-underscore", cfg('[[agent]]\nname = "a.b"\n[[agent]]\nname = "a_b"\n'),
         'name = "a.b"', "agent[0].name", f"got string 'a.b' (expected {NAME_RULE})"),
    Case("session-collision", cfg('[[agent]]\nname = "a"\n[[agent]]  # second\nname = "b"\n'
                                  'session = "T-A"\n'), "# second", "agent.b.session",
         "session name 'T-A' is already used by agent 'a'"),
]


@pytest.mark.parametrize("case", T04_CASES, ids=[c.id for c in T04_CASES])
def test_t04_wrong_types_ranges_and_name_collisions(tmp_path: Path, no_processes: None,
                                                    case: Case) -> None:
    """FAULT: a value of the wrong type ("5", "false"), out of range (-1, inf, nan, 2^63), an
    empty string, or two names tmux would confuse. EXPECTED: rejected at validation with a
    FILE:LINE and path-qualified message, nothing coerced, before any tmux call."""
    check_case(tmp_path, case)


def test_t04_underscored_name_alone_is_fine(tmp_path: Path) -> None:
    """FAULT: none; the contrast for `dot-vs-underscore`. EXPECTED: `a_b` alone is a valid
    name and its session is exactly `<prefix>a_b`."""
    config = config_mod.load(write(tmp_path, cfg('[[agent]]\nname = "a_b"\n')))
    assert [(a.name, a.session) for a in config.agents] == [("a_b", "t-a_b")]


T05_CASES = [
    Case("bad-regex", cfg(TOOL + 'active_re = "([a-z]+"\n'), "active_re",
         "backend.tool.active_re", "invalid regular expression: missing ): ([a-z]+"),
    Case("bad-limit-regex", cfg(TOOL + 'limit_re = "x([a-z]+"\n'), "limit_re",
         "backend.tool.limit_re", "invalid regular expression: missing ): x([a-z]+"),
    Case("lookahead", cfg(TOOL + 'active_re = "(?=a)b"\n'), "active_re",
         "backend.tool.active_re", "a lookahead `(?=...)` is not supported (regexes run on "
         "RE2, which matches in linear time and has no backtracking to control); rewrite "
         "without it"),
    Case("backreference", cfg('[backend.demo]\nprompt_re = "(a)\\\\1"\n'), "prompt_re",
         "backend.demo.prompt_re", "a backreference like `\\1` is not supported (regexes run "
         "on RE2, which matches in linear time); rewrite without it"),
]


@pytest.mark.parametrize("case", T05_CASES, ids=[c.id for c in T05_CASES])
def test_t05_invalid_and_unsupported_regex_rejected(tmp_path: Path, no_processes: None,
                                                    case: Case) -> None:
    """FAULT: a stall/ready pattern that does not compile (`([a-z]+`) or uses a construct
    the linear-time engine refuses (lookaround, backreference). EXPECTED: rejected at
    validation, never at match time, the construct named."""
    check_case(tmp_path, case)


@pytest.mark.parametrize(("pattern", "construct"), [
    (r"(?<=a)b", "a lookbehind"), (r"(?<!a)b", "a negative lookbehind"),
    (r"(?!a)b", "a negative lookahead"), (r"(?>a+)b", "an atomic group"),
    (r"a*+b", "a possessive quantifier `*+`"), (r"(?P<n>a)(?P=n)", "a backreference"),
])
def test_t05_unsupported_constructs_are_named(pattern: str, construct: str) -> None:
    """FAULT: each construct RE2 refuses. EXPECTED: the error starts with its name."""
    with pytest.raises(RegexError) as caught:
        UserRegex(pattern)
    assert str(caught.value).startswith(construct)


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(\w+\s?)*$", r"(\d+\.){3}", r"(a|b)+"])
def test_t05_nested_repeats_are_accepted(pattern: str) -> None:
    """FAULT: once refused as exponential (a repeat inside a repeat). EXPECTED: accepted:
    RE2 matches them in linear time (T41 measures)."""
    assert UserRegex(pattern).pattern == pattern


class Deadline(Exception):
    pass


@pytest.fixture
def deadline() -> Iterator[None]:
    """Interrupt a runaway regex (sre checks signals) instead of hanging the suite."""
    def expire(signum: int, frame: object) -> None:
        raise Deadline()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


NOW = datetime(2025, 6, 16, 12, 0).astimezone()
# Accepted (no nested repeat) yet quadratic on one long line: each start position scans on.
QUADRATIC = UserRegex(r"x.*y")


def classify_seconds(screen: str) -> float:
    backend = Backend(name="user", bin="x", active_re=QUADRATIC, limit_re=QUADRATIC)
    start = time.perf_counter()
    classify(screen, backend, NOW)
    return time.perf_counter() - start


def test_t05_a_pane_sized_capture_stays_within_budget(deadline: None) -> None:
    """FAULT: the worst a tick captures today (the visible pane, PANE_WIDTH x PANE_HEIGHT,
    all one -J joined row) against an accepted but quadratic user regex.
    EXPECTED: classified well within a second."""
    assert classify_seconds("x" * (PANE_WIDTH * PANE_HEIGHT)) < 1.0


def test_t05_a_1mb_capture_stays_within_budget(deadline: None) -> None:
    """FAULT: a 1 MB adversarial capture (one line; a client with a huge terminal, or a
    future capture of scrollback) against an accepted but quadratic user regex as
    active_re and limit_re. EXPECTED: classifying it takes well under a second (one tick's
    budget): matching sees capped input only."""
    assert classify_seconds("x" * 10**6) < 1.0


@pytest.mark.tmux
def test_t03_t04_t05_bad_values_on_a_running_fleet_keep_last_good(make_fleet,
                                                                   tmp_path) -> None:
    """FAULT: on a running fleet, one edit brings a typo'd key, an unknown table, a "false"
    string for a bool, inf, two agents `Agent`/`agent`, a regex that does not compile and
    one with a lookahead. EXPECTED: one `config-rejected` event listing every problem with its
    line and path; nothing coerced or half-applied: no session created, the agent not
    restarted; the last good config stays in force."""
    body = "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path)
    fleet = make_fleet(body)
    pids = up(fleet, "a")
    before = sessions(fleet.socket)
    fleet.write(body.replace("signal_interval = 0.3", "signal_interval = 0.3\n"
                             "restart_backof = 5\nrestart_backoff_max = inf") + """
        [watchdgo]
        x = 1

        [[agent]]
        name = "Agent"
        backend = "demoa"
        enabled = "false"

        [[agent]]
        name = "agent"
        backend = "demoa"

        [backend.democ]
        bin = "x"
        active_re = "([a-z]+"
        limit_re = "(?=x)y"
    """)
    event = fleet.wait_event(None, "config-rejected", timeout=5)
    text = fleet.path.read_text()
    for needle, key in [("restart_backof =", "watchdog.restart_backof: unknown key"),
                        ("restart_backoff_max", "watchdog.restart_backoff_max: got number inf"),
                        ("[watchdgo]", "watchdgo: unknown key"),
                        ('enabled = "false"', "agent.Agent.enabled: got string 'false'"),
                        ('name = "agent"', "agent.agent: duplicate name"),
                        ("active_re = \"([a-z]+", "backend.democ.active_re: invalid regular "
                         "expression: missing ): ([a-z]+"),
                        ("(?=x)y", "backend.democ.limit_re: a lookahead `(?=...)` is not "
                         "supported")]:
        assert f"{fleet.path}:{line_of(text, needle)}: {key}" in event["reason"]
    holds_for(lambda: fleet.pane_pid("e-a") == pids["a"] and sessions(fleet.socket) == before
              and len(fleet.events(None, "config-rejected")) == 1, 0.6,
              what="the fleet as it was")
    assert not fleet.events(None, "config-reloaded")


# ----------------------------------------------------------------------------- T06


def fleet_config(tmp_path: Path, names: str, changes: dict[str, str] | None = None) -> Config:
    body = "".join(f'\n[[agent]]\nname = "{n}"\nprompt = "{(changes or {}).get(n, n)}"\n'
                   for n in names)
    return config_mod.load(write_config(tmp_path, 'backend = "demo"\n' + body))


def test_t06_removal_waits_for_a_settled_file(tmp_path: Path) -> None:
    """FAULT: a file read while it is being rewritten shows only agent a (valid TOML).
    EXPECTED (pure `reload.hold`, fake clock): additions and changes apply at once; a
    removal applies only when the same content is read again REMOVAL_SETTLE seconds later;
    another content restarts the wait; content that removes nothing applies at once."""
    running = fleet_config(tmp_path / "1", "abc")
    partial = fleet_config(tmp_path / "2", "a")
    held = reload.hold(running, partial, None, 100.0)
    assert held == reload.Held(partial.digest, 100.0, ("b", "c"))
    assert reload.hold(running, partial, held, 100.0 + reload.REMOVAL_SETTLE - 0.01) is held
    assert reload.hold(running, partial, held, 100.0 + reload.REMOVAL_SETTLE) is None
    other = fleet_config(tmp_path / "3", "ab")
    restarted = reload.hold(running, other, held, 100.5)
    assert restarted == reload.Held(other.digest, 100.5, ("c",))
    complete = fleet_config(tmp_path / "4", "abc")
    assert reload.hold(running, complete, restarted, 100.6) is None
    assert reload.hold(running, fleet_config(tmp_path / "5", "abcd"), None, 0.0) is None
    changed = fleet_config(tmp_path / "6", "abc", {"b": "new"})
    assert reload.hold(running, changed, None, 0.0) is None
    assert reload.removed(running, fleet_config(tmp_path / "7", "ad")) == ("b", "c")


@pytest.mark.tmux
def test_t06_half_written_config_stops_nobody(make_fleet, tmp_path) -> None:
    """FAULT: a running fleet a, b, c; a writer truncates the config in place and writes only
    `[defaults]` + agent a (valid TOML), then completes the file a moment later.
    EXPECTED: the watchdog reads the partial file (`config-pending`: it would remove b, c)
    but stops nobody; once the file is whole nothing is restarted, stopped or removed; the
    config in force is the original content."""
    body = "[watchdog]\nsignal_interval = 0.3\n" + "".join(
        demo_agent(n, tmp_path) for n in "abc")
    fleet = make_fleet(body)
    pids = up(fleet, "a", "b", "c")
    full = fleet.path.read_text()
    digest = config_mod.content_digest(full.encode())
    write_in_place(fleet.path, fleet.head + textwrap.dedent(
        "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path)))
    pending = fleet.wait_event(None, "config-pending", timeout=5)
    assert pending["reason"].startswith("the edit removes b, c")
    write_in_place(fleet.path, full)

    def untouched() -> bool:
        return {n: fleet.pane_pid(f"e-{n}") for n in "abc"} == pids
    holds_for(untouched, reload.REMOVAL_SETTLE + 0.5, what="a, b and c on their pids")
    kinds = {e["event"] for e in fleet.events()}
    assert not kinds & {"removed", "stop", "restart", "changed", "config-reloaded"}
    health = markers.read_health(config_mod.load(fleet.path))
    assert health is not None and health["ok"] and health["digest"] == digest


# ----------------------------------------------------------------------------- T07

def test_t07_diff_touches_only_what_changed(tmp_path: Path) -> None:
    """FAULT: one edit changes b's prompt, removes c and adds d (pure `reload.diff`).
    EXPECTED: exactly Stop c (by its old session), Restart b, Start d, with one event each;
    a's memory (uptime, counters) is kept as it was, b's and c's start afresh."""
    def load(body: str) -> Config:  # both versions at the same path, as when editing
        return config_mod.load(write_config(tmp_path, body))
    old = load(RELOAD_BASE)
    new = load(RELOAD_BASE.replace('prompt = "b"', 'prompt = "b2"')
               .replace('[[agent]]\nname = "c"\nbackend = "demo"\nprompt = "c"\n', "")
               + '\n[[agent]]\nname = "d"\nbackend = "demo"\n')
    counters = AgentMemory(started_at=5.0, starts=3, restarts=2)
    memory = FleetMemory({"a": counters, "b": counters, "c": counters})
    decisions = reload.diff(old, new, Observed(True, panes("t-a", "t-b", "t-c")), memory,
                            Now(100.0, 1e9))
    got = [(type(a).__name__, a.agent, a.reason) for a in decisions.actions]
    assert got == [("Stop", "c", "removed from the config"),
                   ("Restart", "b", "config changed"), ("Start", "d", "added to the config")]
    assert [(e.agent, e.event) for e in decisions.events] == [
        ("c", "removed"), ("b", "changed"), ("d", "added")]
    assert decisions.memory.agent("a") == counters  # untouched: uptime and counters kept
    assert "b" not in decisions.memory.agents and "c" not in decisions.memory.agents
    assert decisions.actions[0].session == "t-c"


@pytest.mark.tmux
def test_t07_reload_applies_the_minimal_diff(make_fleet, tmp_path) -> None:
    """FAULT: on a running fleet a, b, c, one edit changes only b's prompt file, adds d and
    removes c. EXPECTED: after the removal settled, only b is restarted (`changed`: a
    changed agent restarts at once), d is started, c gets the full stop (session gone, its
    process gone); a keeps its pid, uptime and counters and gets no event."""
    for name in ("pb.md", "pb2.md"):
        (tmp_path / name).write_text(f"prompt {name}\n")

    def agent(name: str, prompt_file: str = "pb.md") -> str:
        text = demo_agent(name, tmp_path)
        return text.replace('prompt = "go"', f'prompt_file = "{prompt_file}"') \
            if name == "b" else text
    head = "[watchdog]\nsignal_interval = 0.3\n"
    fleet = make_fleet(head + agent("a") + agent("b") + agent("c"))
    pids = up(fleet, "a", "b", "c")
    config = config_mod.load(fleet.path)
    before = counters(config, "a")
    seen = len(fleet.events())
    fleet.write(head + agent("a") + agent("b", "pb2.md") + agent("d"))
    fleet.wait_event(None, "config-reloaded", timeout=10)
    wait_until(lambda: "e-d" in sessions(fleet.socket) and "e-c" not in sessions(fleet.socket)
               and fleet.pane_pid("e-b") not in (None, pids["b"]), what="the diff applied")
    wait_until(lambda: not pid_alive(pids["c"]), what="c's process to be gone")
    new = [(e["agent"], e["event"]) for e in fleet.events()[seen:]]
    assert ("c", "removed") in new and ("b", "changed") in new and ("d", "added") in new
    assert new.index((None, "config-pending")) < new.index((None, "config-reloaded"))
    assert not [e for e in new if e[0] == "a"]
    assert fleet.pane_pid("e-a") == pids["a"]
    assert counters(config, "a") == before  # same start time and counters: the same run
    assert before[2] == 0  # no restart before the edit either
    starts = wait_until(lambda: [r for r in fleet.records("b") if r["event"] == "start"][1:],
                        what="b's second start record")
    assert [r["pid"] for r in starts] == [fleet.pane_pid("e-b")]  # restarted exactly once
    assert starts[0]["argv"][-1] == "prompt pb2.md\n"  # with the new prompt


# ----------------------------------------------------------------------------- T08


@pytest.fixture
def foreign(monkeypatch: pytest.MonkeyPatch):
    """Give a file to "another user" (uid 4242): chown it when we are root; otherwise (a
    plain user cannot chown) make stat/fstat report that owner for this one inode, so the
    rest of the world, our config included, stays ours."""
    def make(path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, 4242, 4242, follow_symlinks=False)
            return
        inode = os.stat(path).st_ino
        real_stat, real_fstat = os.stat, os.fstat

        def owned(info: os.stat_result) -> os.stat_result:
            if info.st_ino != inode:
                return info
            fields = list(info)
            fields[4] = fields[5] = 4242  # st_uid, st_gid
            return os.stat_result(fields)
        monkeypatch.setattr(os, "stat", lambda *a, **k: owned(real_stat(*a, **k)))
        monkeypatch.setattr(os, "fstat", lambda fd: owned(real_fstat(fd)))
    return make


PROMPT_BODY = '[[agent]]\nname = "a"\nprompt_file = "prompts/x.md"\n'


def prompt_config(tmp_path: Path) -> tuple[Path, Path, str]:
    text = cfg(PROMPT_BODY)
    path = write(tmp_path, text, ("prompts/x.md",))
    return path, tmp_path / "prompts" / "x.md", text


@pytest.mark.parametrize(("target", "mode", "outcome"), [
    ("config", 0o644, "ok"), ("config", 0o600, "ok"), ("config", 0o664, "warn"),
    ("config", 0o666, "refused"), ("config", 0o602, "refused"),
    ("prompt", 0o644, "ok"), ("prompt", 0o664, "warn"), ("prompt", 0o666, "refused"),
], ids=lambda v: f"{v:04o}" if isinstance(v, int) else str(v))
def test_t08_modes(tmp_path: Path, target: str, mode: int, outcome: str) -> None:
    """FAULT: the config or a prompt file is group- or world-writable.
    EXPECTED: world-writable → refused with a message naming the path, the mode, why it
    matters and the chmod that fixes it; group-writable (normal under umask 002) → accepted
    with a warning naming the path and mode; private → accepted silently."""
    path, prompt, text = prompt_config(tmp_path)
    file = path if target == "config" else prompt
    os.chmod(file, mode)
    shown = "agents.toml" if target == "config" else "prompts/x.md"
    stakes = "run" if target == "config" else "are told"
    where = f"{path}: " if target == "config" else \
        f"{path}:{line_of(text, 'prompt_file')}: agent.a.prompt_file: "
    if outcome == "refused":
        assert str(rejected(path)) == (
            f"{where}{shown} is world-writable (mode {mode:04o}): anyone can change what your "
            f"agents {stakes}; chmod o-w {file}")
        return
    config = config_mod.load(path)
    if outcome == "ok":
        assert config.warnings == ()
    else:
        assert len(config.warnings) == 1
        assert config.warnings[0].startswith(f"{where}{shown} is group-writable (mode "
                                             f"{mode:04o}, ")
        assert config.warnings[0].endswith(f"chmod g-w {file} unless that group is just you")


def test_t08_symlink_to_another_users_file_is_refused_unread(tmp_path: Path, foreign,
                                                             monkeypatch) -> None:
    """FAULT: a prompt file replaced by a symlink to a file owned by another user.
    EXPECTED: the config is refused with a message naming the link, its target and the
    owner; the target's content is never read (not at load, not at launch)."""
    path, prompt, text = prompt_config(tmp_path)
    elsewhere = tmp_path / "other" / "theirs.md"
    elsewhere.parent.mkdir()
    elsewhere.write_text("do something else\n")
    os.chmod(elsewhere, 0o644)
    prompt.unlink()
    prompt.symlink_to(elsewhere)
    foreign(elsewhere)
    reads: list[str] = []
    real_read = os.read

    def spy(fd: int, size: int) -> bytes:
        reads.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_read(fd, size)
    monkeypatch.setattr(os, "read", spy)
    exc = rejected(path)
    message = str(exc)
    assert message.startswith(f"{path}:{line_of(text, 'prompt_file')}: agent.a.prompt_file: "
                              f"prompts/x.md (a symlink to {elsewhere}) is owned by ")
    assert "not by you or root" in message and "refusing to read it" in message
    with pytest.raises(filetrust.Untrusted):
        filetrust.read_text(prompt)
    assert str(path) in reads  # the spy works: the config itself was read
    assert str(elsewhere) not in reads


@pytest.mark.parametrize("through_symlink", [False, True], ids=["file", "symlink"])
def test_t08_config_owned_by_another_user_is_refused(tmp_path: Path, foreign,
                                                     through_symlink: bool) -> None:
    """FAULT: the config file belongs to another user (neither us nor root), or is replaced
    by a symlink to such a file. EXPECTED: refused, naming the file (and the link's target)
    and the owner; the watchdog/CLI never runs that fleet."""
    path, _, _ = prompt_config(tmp_path)
    theirs = path
    if through_symlink:
        theirs = tmp_path / "other.toml"
        path.rename(theirs)
        path.symlink_to(theirs)
    foreign(theirs)
    message = str(rejected(path))
    shown = f"agents.toml (a symlink to {theirs})" if through_symlink else "agents.toml"
    assert message.startswith(f"{path}: {shown} is owned by ")
    assert "uid 4242" in message and "not by you or root" in message


def test_t08_root_owned_target_is_trusted(tmp_path: Path) -> None:
    """FAULT: none; a prompt symlinked to a root-owned, not world-writable file (like a
    config in /nix/store). EXPECTED: accepted: root is as trusted as the system itself."""
    target = Path("/etc/hostname")
    if not target.is_file() or target.stat().st_uid != 0 or target.stat().st_mode & 0o022:
        pytest.skip("no root-owned, non-writable /etc/hostname here")
    path, prompt, _ = prompt_config(tmp_path)
    prompt.unlink()
    prompt.symlink_to(target)
    config = config_mod.load(path)
    assert config.agents[0].prompt_file == target.resolve()
    assert config.warnings == ()


@pytest.mark.parametrize(("mode", "refused"), [(0o777, True), (0o1777, False), (0o775, False)],
                         ids=["0777", "1777-sticky", "0775"])
def test_t08_world_writable_folder(tmp_path: Path, mode: int, refused: bool) -> None:
    """FAULT: the prompt file sits in a folder anyone may write to (anyone can replace it).
    EXPECTED: refused unless the folder is sticky (like /tmp: only the owner may replace)."""
    path, prompt, _ = prompt_config(tmp_path)
    os.chmod(prompt.parent, mode)
    if refused:
        assert f"prompts/x.md is in {prompt.parent}, which anyone can write to (mode 0777)" \
            in str(rejected(path))
    else:
        config_mod.load(path)


def test_t08_fifo_and_folder_are_not_regular(tmp_path: Path) -> None:
    """FAULT: a prompt path that is a FIFO (opening or reading it would hang) or a folder,
    at read time. EXPECTED: refused, without blocking."""
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo, 0o600)
    for path in (fifo, tmp_path):
        with pytest.raises(filetrust.Untrusted, match="is not a regular file"):
            filetrust.read_text(path)


def test_t08_wake_file_is_judged_when_typed(tmp_path: Path, monkeypatch) -> None:
    """FAULT: the config loaded fine; later the wake prompt file becomes world-writable, and
    the agent goes idle so the watchdog types it. EXPECTED: nothing is typed; a
    `delivery-failed` event names the file and the problem."""
    text = cfg('[[agent]]\nname = "a"\nwake = { interval = 60, prompt_file = "w.md" }\n')
    path = write(tmp_path, text, ("w.md",))
    config = config_mod.load(path)
    os.chmod(tmp_path / "w.md", 0o666)
    monkeypatch.setattr(delivery, "deliver", lambda *a, **k: pytest.fail("typed"))
    dog = watchdog_mod.Watchdog(config=config, tmux=Tmux(None))
    wake = config.agents[0].wake
    assert wake is not None
    apply.apply_one(dog.door, config, Type("a", "wake", file=wake.prompt_file), dog.record)
    failed = [e for e in events_mod.read(config.log_dir) if e["event"] == "delivery-failed"]
    assert len(failed) == 1 and failed[0]["agent"] == "a"
    assert f"{tmp_path / 'w.md'} is world-writable (mode 0666)" in failed[0]["reason"]


def test_t08_prompt_changed_after_load_is_refused_at_launch(tmp_path: Path) -> None:
    """FAULT: the config loaded fine; then the prompt file is made world-writable (or
    swapped) before the agent is (re)started. EXPECTED: the launch refuses to send it."""
    path, prompt, _ = prompt_config(tmp_path)
    config = config_mod.load(path)
    os.chmod(prompt, 0o666)
    with pytest.raises(filetrust.Untrusted):
        launch.kickoff_text(config, config.agents[0])


@pytest.mark.tmux
def test_t08_config_trust_on_a_running_fleet(make_fleet, tmp_path) -> None:
    """FAULT: a fleet started from a group-writable config; then the config becomes
    world-writable; then it is fixed; then the agent's prompt file becomes world-writable.
    EXPECTED: `agents up` warns on stderr and the watchdog records ONE `config-warning`; the
    world-writable config is refused (`config-rejected` naming the path and mode; status
    stale; the agent keeps running); the chmod fix is reported (`config-recovered`); the
    world-writable prompt is refused the same way, naming the prompt file."""
    (tmp_path / "prompts").mkdir()
    prompt = tmp_path / "prompts" / "x.md"
    prompt.write_text("go\n")
    body = "[watchdog]\nsignal_interval = 0.3\n" + demo_agent("a", tmp_path).replace(
        'prompt = "go"', 'prompt_file = "prompts/x.md"')
    fleet = make_fleet(body)
    os.chmod(fleet.path, 0o664)
    result = fleet.agents("up")
    assert result.returncode == 0
    assert "agents.toml is group-writable (mode 0664, " in result.stderr
    fleet.wait_event("a", "adopt")
    pid = fleet.pane_pid("e-a")
    config = config_mod.load(fleet.path)
    warning = fleet.wait_event(None, "config-warning")
    assert "agents.toml is group-writable (mode 0664" in warning["reason"]

    os.chmod(fleet.path, 0o666)
    event = fleet.wait_event(None, "config-rejected", timeout=5)
    assert (f"{fleet.path}: agents.toml is world-writable (mode 0666): anyone can change "
            f"what your agents run; chmod o-w {fleet.path}") in event["reason"]
    health = markers.read_health(config)  # what `agents status` shows as stale
    assert health is not None and not health["ok"]
    os.chmod(fleet.path, 0o644)
    fleet.wait_event(None, "config-recovered", timeout=5)

    os.chmod(prompt, 0o646)
    os.utime(fleet.path)  # prompt files are judged when the config is read
    event = fleet.wait_event(None, "config-rejected", timeout=5, after=1)
    assert ("agent.a.prompt_file: prompts/x.md is world-writable (mode 0646): anyone can "
            f"change what your agents are told; chmod o-w {prompt}") in event["reason"]
    assert fleet.pane_pid("e-a") == pid
    assert len(fleet.events(None, "config-warning")) == 1
    check = fleet.agents("check")
    assert check.returncode == 1 and "prompts/x.md is world-writable" in check.stderr
