"""events.jsonl: redacted records, size rotation (also with concurrent writers), reading across
rotated files, following, and the --since / agent filters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import wait_until

from agent_orchestrator.config.schema import NAME_RE
from agent_orchestrator.core.events import Event
from agent_orchestrator.doors import eventlog

SECRET = "sk-ant-" + "api03-" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def event(index: int, agent: str | None = "a1", size: int = 0) -> Event:
    return Event(1_700_000_000.0 + index, agent, "nudge", f"n{index} " + "x" * size)


def reasons(records: object) -> list[str]:
    return [str(r["reason"]).split()[0] for r in records]  # type: ignore[index, union-attr]


def files_on_disk(log_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in log_dir.iterdir()}


def test_record_is_redacted_and_well_formed(tmp_path: Path) -> None:
    eventlog.append(tmp_path, [Event(0.25, "a1", "stuck", f"screen said {SECRET}")])
    line = eventlog.events_file(tmp_path).read_text()
    assert SECRET not in line and "[REDACTED:anthropic]" in line
    assert json.loads(line) == {"time": "1970-01-01T00:00:00.250Z", "agent": "a1",
                                "event": "stuck", "reason": "screen said [REDACTED:anthropic]"}
    assert eventlog.events_file(tmp_path).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("agent", "written"), [
    ("a1", "a1"), (None, None), ("Agent_2-b", "Agent_2-b"),
    ("bad name\n{", "bad_name__"), ("-lead", "x-lead"), ("", "x"),
    (f"a {SECRET}", "a__REDACTED_anthropic_"),
])
def test_agent_is_always_a_valid_name(tmp_path: Path, agent: str | None,
                                      written: str | None) -> None:
    record = json.loads(Event(0, agent, "e", "r").to_json())
    assert record["agent"] == written
    if written is not None:
        assert NAME_RE.match(written)


def test_existing_file_is_made_private(tmp_path: Path) -> None:
    eventlog.events_file(tmp_path).write_text("")
    os.chmod(eventlog.events_file(tmp_path), 0o644)
    eventlog.append(tmp_path, [event(1)])
    assert eventlog.events_file(tmp_path).stat().st_mode & 0o777 == 0o600


def test_append_and_read_keep_their_old_signatures(tmp_path: Path) -> None:
    eventlog.append(tmp_path / "new", [event(1), event(2, agent=None)])
    assert reasons(eventlog.read(tmp_path / "new")) == ["n1", "n2"]
    assert eventlog.events_file(tmp_path) == tmp_path / "events.jsonl"
    assert list(eventlog.read(tmp_path / "missing")) == []


def test_default_limits() -> None:
    assert eventlog.append.__defaults__ == (5_000_000, 5)  # what the watchdog's calls get


def test_a_batch_is_split_across_files(tmp_path: Path) -> None:
    eventlog.append(tmp_path, [event(i) for i in range(50)], max_bytes=1_000, keep=20)
    sizes = files_on_disk(tmp_path)
    assert len(sizes) > 2 and all(size <= 1_000 for size in sizes.values())
    assert reasons(eventlog.read(tmp_path)) == [f"n{i}" for i in range(50)]


def test_an_event_larger_than_max_bytes_still_lands(tmp_path: Path) -> None:
    eventlog.append(tmp_path, [event(0), event(1, size=3_000), event(2)], max_bytes=1_000)
    assert reasons(eventlog.read(tmp_path)) == ["n0", "n1", "n2"]


def test_keep_zero_starts_over(tmp_path: Path) -> None:
    for index in range(100):
        eventlog.append(tmp_path, [event(index)], max_bytes=1_000, keep=0)
    assert list(files_on_disk(tmp_path)) == ["events.jsonl"]
    assert reasons(eventlog.read(tmp_path))[-1] == "n99"


def test_read_goes_oldest_first_across_files(tmp_path: Path) -> None:
    for index in range(300):
        eventlog.append(tmp_path, [event(index)], max_bytes=1_000, keep=100)
    assert len(eventlog.rotated_files(tmp_path)) > 10  # past .9, so .10 must sort after .9
    assert reasons(eventlog.read(tmp_path)) == [f"n{i}" for i in range(300)]
    current = reasons(eventlog.read(tmp_path, include_rotated=False))
    assert 0 < len(current) < 300 and current[-1] == "n299"
    # Stray files are not taken for rotated ones.
    (tmp_path / "events.jsonl.old").write_text(event(-1).to_json() + "\n")
    (tmp_path / "events.jsonl.01").write_text(event(-2).to_json() + "\n")
    assert reasons(eventlog.read(tmp_path)) == [f"n{i}" for i in range(300)]


WRITER = """
import sys
from pathlib import Path
from agent_orchestrator.doors.eventlog import append
from agent_orchestrator.core.events import Event
log_dir, who = Path(sys.argv[1]), sys.argv[2]
for i in range(300):
    append(log_dir, [Event(0, who, "e", f"{who}-{i}")], max_bytes=1500, keep=1000)
"""


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"w{n}"],
                                cwd=Path(__file__).parent.parent) for n in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    got = [str(r["reason"]) for r in eventlog.read(tmp_path)]
    assert sorted(got) == sorted(f"w{n}-{i}" for n in range(4) for i in range(300))
    for n in range(4):  # each writer's own events stay in order
        mine = [r for r in got if r.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(300)]
    one = len(Event(0, "w0", "e", "w0-299").to_json()) + 1
    assert max(files_on_disk(tmp_path).values()) <= 1500 + 3 * one


class Follower:
    """follow() in a thread; `ready` is set once it has opened the file and polled once."""

    def __init__(self, log_dir: Path, **kwargs: object) -> None:
        self.records: list[dict[str, object]] = []
        self.done = threading.Event()
        self.ready = threading.Event()
        self.calls = 0
        self.thread = threading.Thread(target=self._run, args=(log_dir, kwargs), daemon=True)
        self.thread.start()

    def _stop(self) -> bool:
        self.calls += 1
        if self.calls >= 2:  # the first call comes before the first open
            self.ready.set()
        return self.done.is_set()

    def _run(self, log_dir: Path, kwargs: dict) -> None:
        for record in eventlog.follow(log_dir, poll=0.02, stop=self._stop, **kwargs):
            self.records.append(record)

    def reasons(self) -> list[str]:
        return reasons(list(self.records))

    def close(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def test_follow_yields_new_events_and_survives_rotation(tmp_path: Path) -> None:
    eventlog.append(tmp_path, [event(-1)])  # already there: not followed
    follower = Follower(tmp_path)
    try:
        assert follower.ready.wait(5)
        eventlog.append(tmp_path, [event(0)])
        appended = time.monotonic()
        wait_until(lambda: follower.records, timeout=1.0, what="the first event")
        assert time.monotonic() - appended < 1.0
        for index in range(1, 40):  # ~100 bytes each: a rotation every few events
            eventlog.append(tmp_path, [event(index)], max_bytes=400, keep=2)
            wait_until(lambda i=index: f"n{i}" in follower.reasons(), timeout=5.0,
                       what=f"event {index}")
        assert follower.reasons() == [f"n{i}" for i in range(40)]
        assert len(eventlog.rotated_files(tmp_path)) == 2
    finally:
        follower.close()


def test_follow_waits_for_the_file_and_stops(tmp_path: Path) -> None:
    follower = Follower(tmp_path / "later")
    try:
        assert follower.ready.wait(5)
        eventlog.append(tmp_path / "later", [event(1), event(2)])
        wait_until(lambda: follower.reasons() == ["n1", "n2"], timeout=5.0)
    finally:
        follower.close()


def test_follow_from_start_and_after_truncation(tmp_path: Path) -> None:
    eventlog.append(tmp_path, [event(1, size=200)])
    follower = Follower(tmp_path, from_start=True)
    try:
        wait_until(lambda: follower.reasons() == ["n1"], timeout=5.0)
        os.truncate(eventlog.events_file(tmp_path), 0)  # then a shorter file: it shrank
        eventlog.append(tmp_path, [event(2)])
        wait_until(lambda: follower.reasons() == ["n1", "n2"], timeout=5.0)
    finally:
        follower.close()


NOW = 1_714_564_800.0  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(("text", "expected"), [
    ("45s", NOW - 45), ("30m", NOW - 1800), ("1h", NOW - 3600), ("2d", NOW - 172800),
    ("1w", NOW - 604800), ("1.5h", NOW - 5400), (" 2H ", NOW - 7200), ("0s", NOW),
    ("2024-05-01T12:00:00Z", NOW), ("2024-05-01T14:00:00+02:00", NOW),
    ("2024-05-01T10:30:00.5+00:00", NOW - 5400 + 0.5),
    ("2024-05-01T12:00", datetime(2024, 5, 1, 12).timestamp()),  # naive: local time
    ("2024-05-01", datetime(2024, 5, 1).timestamp()),
])
def test_parse_since(text: str, expected: float) -> None:
    assert eventlog.parse_since(text, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "abc", "1y", "-1h", "1 hour", "3600", "h", "1h30m",
                                  "2024-13-01", "yesterday", "99999999999999d"])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read .* as a time: expected .*30m.*ISO"):
        eventlog.parse_since(text, now=NOW)


@pytest.fixture
def tokyo() -> Iterator[None]:
    """Local time UTC+9, so local and UTC readings of a naive time differ."""
    # Its own MonkeyPatch: undoing the shared one would also undo the isolated HOME.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        yield
    time.tzset()


def test_naive_times_are_local_for_since_and_utc_in_records(tokyo: None) -> None:
    assert eventlog.parse_since("2024-05-01T21:00", now=NOW) == NOW
    assert eventlog.record_time({"time": "2024-05-01T12:00:00"}) == NOW


def test_parse_since_defaults_to_now() -> None:
    assert abs(eventlog.parse_since("1h") - (time.time() - 3600)) < 5


def test_matches() -> None:
    record = json.loads(Event(NOW, "a1", "e", "r").to_json())
    fleet = json.loads(Event(NOW, None, "e", "r").to_json())
    assert eventlog.matches(record)
    assert eventlog.matches(record, agent="a1") and not eventlog.matches(record, agent="a2")
    assert not eventlog.matches(fleet, agent="a1")
    assert eventlog.matches(record, since=NOW) and not eventlog.matches(record, since=NOW + 0.01)
    assert eventlog.matches(record, agent="a1", since=eventlog.parse_since("1h", now=NOW))
    assert not eventlog.matches({"agent": "a1"}, since=0)
    assert not eventlog.matches({"agent": "a1", "time": "not a time"}, since=0)
    assert eventlog.matches({"agent": "a1", "time": "not a time"}, agent="a1")
    assert eventlog.matches({"time": "2024-05-01T12:00:00"}, since=NOW)  # naive: UTC


# ------------------------------------------------------------------ every kind, documented

PACKAGE = Path(__file__).resolve().parent.parent / "agent_orchestrator"
README = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
# The calls that record an event, and the position of the kind among their arguments.
KIND_AT = {"Event": 2, "event": 1, "report_once": 1, "operator_event": 2}


def kinds_in(rel: str, source: str) -> set[str]:
    """The event kinds written as literals in a module: in the recording calls above, in
    core's `start(tick, agent, KIND, ...)`, as `kind=` arguments and as the defaults of
    parameters named `kind`."""
    import ast

    found: set[str] = set()

    def take(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else \
                func.id if isinstance(func, ast.Name) else None
            at = KIND_AT.get(name or "")
            if name == "start" and isinstance(func, ast.Name) and rel.startswith("core/"):
                at = 2
            if at is not None and len(node.args) > at:
                take(node.args[at])
            for keyword in node.keywords:
                if keyword.arg == "kind" or (name == "Event" and keyword.arg == "event"):
                    take(keyword.value)
        elif isinstance(node, ast.FunctionDef):
            params = node.args.args[len(node.args.args) - len(node.args.defaults):]
            for param, default in [*zip(params, node.args.defaults, strict=True),
                                   *zip(node.args.kwonlyargs, node.args.kw_defaults,
                                        strict=True)]:
                if param.arg == "kind":
                    take(default)
    return found


def test_the_code_records_exactly_the_registered_kinds() -> None:
    from agent_orchestrator.core.events import KINDS

    emitted: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        emitted |= kinds_in(str(path.relative_to(PACKAGE)), path.read_text(encoding="utf-8"))
    assert len(emitted) > 50  # the scan sees the recording calls
    assert emitted - KINDS == set(), "recorded but not in core/events.py KINDS (and README)"
    assert KINDS - emitted == set(), "in KINDS but recorded nowhere"


def test_a_planted_unregistered_kind_is_seen() -> None:
    planted = ('def f(tick, report, kind="k-default"):\n'
               '    tick.event(None, "k-tick", "r")\n'
               '    report.report_once("key", "k-once", "r")\n'
               '    x = Event(0, None, "k-event", "r")\n'
               '    operator_event(config, "a", "k-operator", "r")\n'
               '    start(tick, agent, "k-start", "r", restart=True)\n'
               '    other(kind="k-keyword")\n')
    assert kinds_in("core/x.py", planted) == {"k-default", "k-tick", "k-once", "k-event",
                                              "k-operator", "k-start", "k-keyword"}


def readme_kinds() -> set[str]:
    section = README.split("\n## Events\n", 1)[1].split("\n## ", 1)[0]
    kinds: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            kinds |= set(re.findall(r"`([a-z-]+)`", line.split(" | ")[0]))
    return kinds


def test_the_readme_lists_every_kind_and_only_those() -> None:
    from agent_orchestrator.cli.render import _EVENT_STYLE
    from agent_orchestrator.core.events import KINDS

    assert readme_kinds() == KINDS
    assert set(_EVENT_STYLE) <= KINDS  # no colour for a kind that does not exist


# ------------------------------------------------------------------ -n and -f


def test_follow_last_gives_the_last_matching_then_new_ones(tmp_path: Path) -> None:
    for index in range(30):  # rotated files too
        eventlog.append(tmp_path, [event(index, agent="a1" if index % 2 else "a2")],
                        max_bytes=600, keep=20)
    assert eventlog.rotated_files(tmp_path)
    got: list[dict[str, object]] = []
    done = threading.Event()

    def run() -> None:
        got.extend(eventlog.follow_last(tmp_path, 4, lambda r: r["agent"] == "a1",
                                        poll=0.02, stop=done.is_set))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(got) == 4, timeout=5, what="the history")
        assert reasons(got) == ["n23", "n25", "n27", "n29"]
        eventlog.append(tmp_path, [event(30, agent="a2"), event(31)], max_bytes=600, keep=20)
        wait_until(lambda: len(got) == 5, timeout=5, what="the new one")
        assert reasons(got)[-1] == "n31"
    finally:
        done.set()
        thread.join(timeout=5)


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_events_n_and_follow_from_the_last_ten(tmp_path: Path) -> None:
    from conftest import write_config

    path = write_config(tmp_path, '[[agent]]\nname = "a1"\nbackend = "demo"\n')
    logs = tmp_path / "logs"
    eventlog.append(logs, [Event(time.time(), "a1", "restart", f"n{i}") for i in range(25)])
    last = run_cli("events", "-n", "3", "--json", "--config", str(path))
    assert last.returncode == 0, last.stderr
    assert [json.loads(x)["reason"] for x in last.stdout.splitlines()] == ["n22", "n23", "n24"]
    for bad in (["-n", "-5"], ["--agent", "nobody"]):
        result = run_cli("events", *bad, "--config", str(path))
        assert result.returncode == 2 and result.stderr.strip(), (bad, result.stderr)
    follower = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "events", "-f",
                                 "--json", "--config", str(path)], stdout=subprocess.PIPE,
                                text=True)
    try:
        assert follower.stdout is not None
        first = [json.loads(follower.stdout.readline())["reason"] for _ in range(10)]
        assert first == [f"n{i}" for i in range(15, 25)]  # not a replay of all 25
        eventlog.append(logs, [Event(time.time(), "a1", "restart", "live")])
        assert json.loads(follower.stdout.readline())["reason"] == "live"
    finally:
        follower.terminate()
        follower.wait(timeout=10)


# ------------------------------------------------------------------ the operator's verbs


def operator_records(logs: Path, kind: str) -> list[dict[str, object]]:
    return [r for r in eventlog.read(logs) if r["event"] == kind]


def test_phase_set_is_an_operator_event(tmp_path: Path) -> None:
    from conftest import write_config

    path = write_config(tmp_path, """
        [loop]
        phases = [{ id = "one", status = "A.md" }, { id = "two", status = "B.md" }]

        [[agent]]
        name = "a"
        backend = "demo"
    """)
    assert run_cli("phase", "set", "2", "--config", str(path)).returncode == 0
    assert run_cli("phase", "set", "--config", str(path)).returncode == 2
    (record,) = operator_records(tmp_path / "logs", "phase-set")
    assert record["agent"] is None  # numbered from 1, as the status header and `phase`
    assert re.fullmatch(r"phase 2/2 two \(was 1/2\) \(operator: pid \d+, user \S+\)",
                        str(record["reason"])), record


@pytest.mark.tmux
def test_up_and_down_are_operator_events(make_fleet: object, tmp_path: Path) -> None:
    from harness import demo_agent

    fleet = make_fleet(demo_agent("a", tmp_path, watch="none"))  # type: ignore[operator]
    logs = tmp_path / "logs"
    assert fleet.agents("up", "a").returncode == 0
    ups = operator_records(logs, "up")
    assert [(r["agent"], str(r["reason"]).split(" (operator")[0]) for r in ups] == \
        [("a", "started"), (None, "e-watchdog: started")]
    assert all(re.search(r"\(operator: pid \d+, user \S+\)$", str(r["reason"])) for r in ups)
    assert fleet.agents("down", "a").returncode == 0
    (down,) = operator_records(logs, "down")
    assert down["agent"] == "a" and str(down["reason"]).startswith("stopped (operator: pid ")
