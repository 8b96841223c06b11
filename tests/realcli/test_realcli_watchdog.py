"""The real CLIs driving OUR watchdog: `agents up` + the watchdog, the product's own signal
wiring (runtime/signalwiring.py: Claude Code's `--settings` hooks, Codex's `-c notify=`),
`agents hook`, and the verdicts read back from events.jsonl, `agents status --json` and
`agents explain --json`. Not the rig's recorder (test_signals.py): here the watchdog must
see it.

Each CLI version gets ONE fleet (one agent, the preset backend with `bin` = the installed
build) that is taken through every assertion in turn. The fleet runs with the environment
clis.py gives the CLI (its private HOME with the config pointing at the fake model, the
fake's URL and key), so the tmux server, the agent and the hooks it runs all have it;
PYTHONPATH names this checkout, so the hook command (`python -m
agent_orchestrator.cli.hook`) imports the code under test.

Every screen regex is switched off (an empty regex): what the watchdog knows, it knows from
the CLI's own word. One exception, Claude's `limit_re`: a usage limit reported by a hook
(StopFailure) or the transcript is a limit only if the backend's limit_re recognises its
text (core/signalrules.py). It is anchored at the start of the TEXT (`\\A`, no decoration):
the hook's and the transcript's text start with "You've hit your ... limit", while every
screen row with that banner starts with `  ⎿  ` (and the 2.1.3xx footer says "Usage limit
reached"), so the screen cannot see the limit and the event must come from the CLI's report.

`footer_ui` is off too: the session log being written then no longer counts as work, so
with `stall_idle` at a few seconds only a hook saying "active" keeps the stall rule away,
and the limit's "no stall reboot" is a real test (without the hold it WOULD reboot). Codex
tells nothing while it works (its notify program runs when a turn ends), so with its screen
regexes off no work could ever be seen: its stall_idle is long. The agent stays `heal+stall`
all the same, as that makes the watchdog look at it on every light tick (an agent with no
screen rule is judged only when a signal arrives, and text queued with `--when-idle` after
its last signal would wait).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import clis
import pytest
from conftest import tmux_cmd, wait_until  # tests/conftest.py

from .conftest import need

REPO = Path(__file__).resolve().parents[2]
AGENT = "a"
STALL_IDLE = 6.0  # seconds: short, so that a missed hold would reboot within the test
LATENCY = 1.0  # seconds from a hook firing to the watchdog's verdict or event
# See the module doc: the hook's / transcript's text, never a screen row.
CLAUDE_LIMIT_RE = r"\AYou.ve hit your (?:[\w-]+ )?limit"
OFF = ("active_re", "prompt_re", "fatal_re", "limit_re", "auto_resume_re", "resumed_re")


def _params(only: str) -> list:
    return [pytest.param(set_name, id=f"{cli}-{version}")
            for cli, set_name, version in clis.each_version() if cli == only]


def _toml(value: str) -> str:
    return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's


class Watcher:
    """Polls, every 20 ms in a thread, the agent's signal file (each signal the hooks
    stored: {event, wall, turns, state}) and the watchdog's memory (each change of the
    judged state: {state, source, seen}, `seen` the epoch we saw it at)."""

    def __init__(self, state_dir: Path) -> None:
        self.signal_file = state_dir / "signals" / f"{AGENT}.json"
        self.memory_file = state_dir / "watchdog.json"
        self.signals: list[dict[str, Any]] = []
        self.judged: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            now = time.time()
            sig = self._read(self.signal_file)
            if sig and (not self.signals or self.signals[-1]["wall"] != sig["wall"]):
                self.signals.append({"event": sig["signal"]["event"], "wall": sig["wall"],
                                     "turns": sig["turns"], "state": sig["signal"]["state"],
                                     "detail": sig["signal"]["detail"][:60],
                                     "session": sig["signal"]["session_id"],
                                     "transcript": sig["signal"]["transcript"]})
            mem = self._read(self.memory_file)
            agent = ((mem or {}).get("agents") or {}).get(AGENT) or {}
            judged = {"state": agent.get("state"), "source": agent.get("state_source")}
            if agent and (not self.judged or {k: self.judged[-1][k] for k in judged} != judged):
                self.judged.append({**judged, "seen": now})

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def signal(self, event: str, after: float = 0) -> dict[str, Any] | None:
        return next((s for s in self.signals if s["event"] == event and s["wall"] > after),
                    None)

    def seen(self, state: str, source: str, after: float = 0) -> dict[str, Any] | None:
        return next((j for j in self.judged if j["state"] == state and j["source"] == source
                     and j["seen"] > after), None)


def wait_for(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    """conftest's `wait_until`, with this file's positional (timeout, what) order."""
    return wait_until(pred, timeout=timeout, what=what)


def api_error_time(transcript: str | None) -> float | None:
    """When Claude Code stamped the last API-error record of its transcript (epoch)."""
    try:
        lines = Path(transcript or "").read_text().splitlines()
    except OSError:
        return None
    errors = [r for r in map(json.loads, filter(None, lines)) if r.get("isApiErrorMessage")]
    return event_wall({"time": errors[-1]["timestamp"]}) if errors else None


def event_wall(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp()


class Rig:
    """One real CLI under `agents up` and our watchdog, against the fake model."""

    def __init__(self, fleet: Any, run: clis.Run, watcher: Watcher) -> None:
        self.fleet, self.run, self.watcher = fleet, run, watcher
        self.timings: dict[str, float] = {}

    def agents_json(self, *args: str) -> dict[str, Any]:
        out = self.fleet.agents(*args, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def status(self) -> dict[str, Any]:
        return next(a for a in self.agents_json("status")["agents"] if a["agent"] == AGENT)

    def event(self, kind: str, after: int = 0, timeout: float = 60) -> dict[str, Any]:
        return self.fleet.wait_event(AGENT, kind, timeout=timeout, after=after)

    def screen(self) -> str:
        return tmux_cmd(self.fleet.socket, "capture-pane", "-p", "-t", f"e-{AGENT}").stdout

    def keys(self, *keys: str) -> None:
        tmux_cmd(self.fleet.socket, "send-keys", "-t", f"e-{AGENT}", *keys)

    def count(self, kind: str) -> int:
        return len(self.fleet.events(AGENT, kind))

    def latency(self, name: str, hook: dict[str, Any], at: float) -> float:
        took = at - hook["wall"]
        self.timings[f"{name} (after {hook['event']})"] = round(took, 3)
        assert -0.5 < took <= LATENCY, f"{name}: {took:.2f}s after the {hook['event']} hook"
        return took


@pytest.fixture
def rig(fake, make_fleet, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def start(cli: str, set_name: str, prompt: str) -> Rig:
        need(cli, set_name)
        run = clis.Run(cli, fake.base_url, set_name)
        # The CLI's config files in its HOME, and the environment that points it at the
        # fake: the whole fleet (tmux server, agent, hooks, watchdog) runs with it.
        for key, value in clis.SETUP[cli](run).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HOME", str(run.home))
        monkeypatch.setenv("TMPDIR", str(run.home / "tmp"))
        monkeypatch.setenv("PATH", f"{run.bin.parent}:{os.environ['PATH']}")
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
        for key in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(key, "127.0.0.1,localhost")
        regexes = {key: "" for key in OFF}
        if cli == "claude":
            regexes["limit_re"] = CLAUDE_LIMIT_RE
        backend = "\n".join(f"{k} = {_toml(v)}" for k, v in regexes.items())
        fleet = make_fleet(f"""
            [watchdog]
            signal_interval = 1
            heavy_interval = 60

            [[agent]]
            name = "{AGENT}"
            backend = "{cli}"
            dir = {_toml(str(run.proj))}
            watch = "heal+stall"
            prompt = {_toml(prompt)}

            [backend.{cli}]
            bin = {_toml(str(run.bin))}
            footer_ui = false
            stall_idle = {STALL_IDLE if cli == "claude" else 120}
            """ + "\n".join(" " * 12 + line for line in backend.splitlines()) + "\n")
        up = fleet.agents("up")
        assert up.returncode == 0, up.stdout + up.stderr
        made.append(Rig(fleet, run, Watcher(fleet.folder / "logs" / "state")))
        return made[-1]

    yield start
    for r in made:
        r.watcher.stop()
        explained = r.fleet.agents("explain", AGENT).stdout
        r.fleet.close()
        left = r.run.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print(f"--- events:\n{json.dumps(r.fleet.events(), indent=1)}\n"
                  f"--- signals: {r.watcher.signals}\n--- judged: {r.watcher.judged}\n"
                  f"--- explain:\n{explained}")
        else:
            print(f"{r.run.cli} {r.run.version} latencies (s): {r.timings}")
        assert not left, f"processes left after stop: {left}"


@pytest.mark.parametrize("set_name", _params("claude"))
def test_claude_hooks_drive_the_watchdog(rig, fake, set_name: str) -> None:
    fake.set("ok", delay=3)  # the turn stays busy for 3 s: time to see "active"
    r = rig("claude", set_name, "Say hello. Marker kickoff-1.")
    w = r.watcher

    # 1. busy from the UserPromptSubmit hook, then one turn-finished from Stop
    hook = wait_for(lambda: w.signal("UserPromptSubmit"), 60, "the UserPromptSubmit hook")
    judged = wait_for(lambda: w.seen("active", "hook"), 5, "state active from the hook")
    r.latency("active", hook, judged["seen"])
    row = r.status()  # status --json says so too (the model still holds the answer)
    assert (row["state"], row["source"]) == ("active", "hook"), row
    assert row["seen_age_s"] is not None and row["seen_age_s"] < 5, row
    wait_for(lambda: any("kickoff-1" in p for p in fake.prompts()), 10, "the kickoff")
    done = r.event("turn-finished")
    stop = w.signal("Stop")
    assert stop is not None and stop["turns"] == 1, w.signals
    r.latency("turn-finished", stop, event_wall(done))
    assert "claude Stop" in done["reason"]
    wait_for(lambda: r.status()["source"] == "hook" and r.status()["state"] != "active", 5,
             "the finished turn in status")

    # 2. a permission dialog: the watchdog types the queued prompt at the idle the Stop
    # hook told; PermissionRequest -> a dialog event, and nothing is typed into it
    fake.set("tool")
    queued = r.fleet.agents("send", AGENT, "Please run the tool. Marker tool-2.", "--when-idle")
    assert queued.returncode == 0, queued.stderr
    dialog = r.event("dialog")
    asked = w.signal("PermissionRequest")
    assert asked is not None, w.signals
    r.latency("dialog", asked, event_wall(dialog))
    assert "claude hook; not typing into it" in dialog["reason"], dialog
    assert r.count("send-typing") == 1
    # nothing typed into it: no further model request (an answered dialog sends the tool's
    # result, a typed text a prompt), the tool did not run, the dialog is still there
    requests = len(fake.model_requests())
    until = time.monotonic() + 3
    while time.monotonic() < until:
        assert len(fake.model_requests()) == requests, fake.model_requests()[requests:]
        time.sleep(0.2)
    assert not (r.run.proj / "fake_tool_output.txt").exists()
    assert clis.dialog("claude", r.screen())
    explained = r.agents_json("explain", AGENT)["judged"]
    assert (explained["state"], explained["source"]) == ("dialog", "hook"), explained
    assert r.status()["state"] == "dialog"  # status --json version 2: the state enum
    assert r.count("send-typing") == 1 and r.count("stall-reboot") == 0
    assert r.count("dialog") == 1  # however often its screen is redrawn

    # 3. a usage limit with a reset time. The operator answers the dialog (Esc: no) and
    # types a prompt (the watchdog types nothing while its hook says dialog); the CLI's 429
    # ends the turn (StopFailure) -> held until the reset it names, never rebooted
    r.keys("Escape")
    wait_for(lambda: not clis.dialog("claude", r.screen()) and clis.ready("claude", r.screen()),
             20, "the dialog to close")
    fake.set("ratelimit", flavor="usage", reset_in=7200, main_only=True)
    sent = r.fleet.agents("send", AGENT, "Say hello again. Marker limit-3.")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    limit = r.event("limit")
    # The CLI reports it twice, in either order: its StopFailure hook and the API-error
    # record of its transcript; the watchdog acts on the first.
    failure = wait_for(lambda: w.signal("StopFailure"), 5, "the StopFailure hook")
    written = wait_for(lambda: api_error_time(failure["transcript"]), 5,
                       "the transcript's API-error record")
    first = min([failure, {"event": "transcript API error", "wall": written}],
                key=lambda x: x["wall"])
    r.latency("limit", first, event_wall(limit))
    assert "the CLI's own report" in limit["reason"], limit
    assert any("limit-3" in p for p in fake.prompts()), fake.prompts()
    # the reset time, read from the CLI's words: "... holding until 2026-12-04 20:02 UTC"
    m = re.search(r"holding until (\d{4}-\d\d-\d\d \d\d:\d\d)", limit["reason"])
    assert m, limit["reason"]
    reset = datetime.strptime(m[1], "%Y-%m-%d %H:%M").timestamp()  # local, as written
    sent_reset = fake.model_requests()[-1]["wall"] + 7200
    assert abs(reset - sent_reset) <= 90, (limit["reason"], sent_reset)
    explained = r.agents_json("explain", AGENT)["judged"]
    assert (explained["state"], explained["source"]) == ("limited", "transcript"), explained
    assert limited_until(r.status()), r.status()
    # No stall reboot: nothing but a hook counts as work here, and the last one (this
    # prompt's) is older than stall_idle + 2 light ticks by the end of this wait.
    pid = r.fleet.pane_pid(f"e-{AGENT}")
    last_work = max(s["wall"] for s in w.signals if s["state"] == "active")
    while time.time() < last_work + STALL_IDLE + 2:
        assert r.count("stall-reboot") == 0 and r.count("restart") == 0, r.fleet.events(AGENT)
        time.sleep(0.2)
    assert r.fleet.pane_pid(f"e-{AGENT}") == pid
    assert r.count("limit-nudge") == 0 and r.count("limit-over") == 0
    assert limited_until(r.status()), r.status()


def limited_until(row: dict) -> bool:
    """status --json version 2: the state is `limited`, the prose names the reset."""
    return row["state"] == "limited" and str(row["detail"]).startswith("limited until")


@pytest.mark.parametrize("set_name", _params("codex"))
def test_codex_notify_drives_the_watchdog(rig, fake, set_name: str) -> None:
    fake.set("ok", delay=3)  # the agent's turn outlasts its title generator's (not a turn)
    r = rig("codex", set_name, "Say hello. Marker kickoff-1.")
    w = r.watcher

    done = r.event("turn-finished")
    notify = wait_for(lambda: next((s for s in w.signals if s["turns"] == 1), None), 5,
                      "the kickoff turn's notify")
    assert notify["detail"].startswith("FAKE-LLM reply"), w.signals  # not the title's
    r.latency("turn-finished", notify, event_wall(done))
    assert "codex agent-turn-complete" in done["reason"]
    assert any("kickoff-1" in p for p in fake.prompts())
    row = r.status()
    assert (row["state"], row["source"]) != ("active", "notify") and row["source"] == "notify"

    # The idle the notify told: the watchdog types the queued text, a second turn ends.
    # (Codex tells no "working": with its screen regexes off, only the notify says idle.)
    fake.set("ok", delay=0)
    queued = r.fleet.agents("send", AGENT, "Say hello again. Marker second-2.", "--when-idle")
    assert queued.returncode == 0, queued.stderr
    r.event("send-typing")
    second = r.event("turn-finished", after=1)
    notify2 = wait_for(lambda: next((s for s in w.signals if s["turns"] == 2), None), 5,
                       "the second turn's notify")
    r.latency("turn-finished 2", notify2, event_wall(second))
    assert any("second-2" in p for p in fake.prompts())
    assert r.count("turn-finished") == 2
