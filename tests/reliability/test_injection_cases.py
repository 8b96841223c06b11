"""Reliability cases T31–T33 (injection): hostile input never runs as code.

- T31 hostile session names: every name a shell, tmux's target syntax or tmux's formats
  would read (`a;b`, `$(...)`, backticks, `-t`, `a:b`, `a.b`, `#{...}`, `#(...)`, blanks,
  newlines, ␞, an RTL override, 300 characters, empty) is rejected when the config is
  validated, with a message that names the place and the rule and holds no raw control or
  bidi character; `agents up` with such a config starts no tmux server at all.
- T32 hostile prompt text: kickoffs (arg / exec / ping) and typed text (`delivery.deliver`,
  used for the watchdog's nudges, wakes and pings) arrive byte for byte, except that typed
  text is sanitised (line ends → `\\n`, other control characters dropped: delivery.py), so an
  `ESC[201~` cannot end the bracketed paste and type keys; 200 KB arrive whole; the named
  paste buffer is gone afterwards; two agents typed into at once while a human pastes
  through tmux's unnamed buffer each get only their own text.
- T33 hostile paths: a project folder, agent `dir` and `prompt_file` with blanks, quotes,
  `$()`, backticks, a leading `-`, `..` and a symlink work literally in every delivery
  (the agent's cwd is that folder, the text arrives, the session log is written) and are
  never executed or split — also not by an agent that runs the boot line's `cat` command.

Every test looks for canary files in the test folder, the working directory and HOME.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path

import pytest
from conftest import holds_for, sessions, tmux_cmd, wait_until, write_config
from harness import demo_agent

from agent_orchestrator import config as config_mod
from agent_orchestrator.config.schema import NAME_RULE
from agent_orchestrator.config.templates import render_boot_line
from agent_orchestrator.core.events import Event
from agent_orchestrator.doors import eventlog
from agent_orchestrator.doors.tmux import Tmux, TmuxError
from agent_orchestrator.runtime import fleet, launch
from agent_orchestrator.runtime.delivery import deliver

# --------------------------------------------------------------------------- helpers


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def inputs(path: Path) -> list[str]:
    return [r["text"] for r in records(path) if r.get("event") == "input"]


def start_event(path: Path) -> dict | None:
    return next((r for r in records(path) if r.get("event") == "start"), None)


def canaries(*places: Path) -> list[Path]:
    found: set[Path] = set()
    for place in places:
        if place.exists():
            found |= set(place.rglob("canary*"))  # what `touch canary...` would create
    return sorted(found)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(workdir, home): the test runs in an empty folder, HOME holds a file `$(rm -rf ~)`
    would delete."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    home = Path(os.environ["HOME"])
    (home / "keep-me").write_text("precious\n")
    return work, home


def assert_harmless(tmp_path: Path, home: Path) -> None:
    assert canaries(tmp_path, home, Path.cwd()) == []
    assert (home / "keep-me").read_text() == "precious\n"  # `$(rm -rf ~)` ran nowhere


def buffers(socket: str) -> str:
    return tmux_cmd(socket, "list-buffers", "-F", "#{buffer_name}").stdout


def start_demo(tmux: Tmux, agents: dict[str, Path]) -> None:
    """Start a demo agent per session (recording into its file), then wait until all idle."""
    for session, record in agents.items():
        tmux.start(session, [sys.executable, "-m", "agent_orchestrator.fakeagent", "--busy",
                             "0.2", "--record", str(record)])
    for session in agents:
        wait_until(lambda s=session: "? for shortcuts" in tmux.capture(s), what=f"{session} idle")


# --------------------------------------------------------------------------- T31

HOSTILE_NAMES = {
    "semicolon": "a;b",
    "subshell": "$(touch canary)",
    "backticks": "`touch canary`",
    "option": "-t",
    "colon": "a:b",
    "dot": "a.b",
    "format": "#{pane_id}",
    "format-command": "#(touch canary)",
    "blank": "a b",
    "newline": "a\nb",
    "trailing-newline": "a\n",
    "record-separator": "\u241e",
    "rtl-override": "a\u202eb",
    "300-chars": "x" * 300,
    "empty": "",
}


def _name_cases() -> list[object]:
    cases = []
    for key in ("name", "session"):
        for case, name in HOSTILE_NAMES.items():
            cases.append(pytest.param(key, name, id=f"{key}-{case}"))
    return cases


@pytest.mark.parametrize(("key", "name"), _name_cases())
def test_t31_hostile_name_is_rejected_at_validation(tmp_path: Path, sandbox: tuple[Path, Path],
                                                   key: str, name: str) -> None:
    """FAULT: an agent `name` or `session` that a shell, tmux's target syntax (`:` `.` `-t`)
    or tmux's formats (`#{}` `#()`) would interpret, or that is blank, empty, too long or
    holds control / bidi characters.
    EXPECTED: config validation rejects it (ConfigError, no tmux involved) with a message
    naming the file, line and rule, printable (no raw control/bidi character, bounded
    length); nothing is executed (no canary)."""
    body = '[[agent]]\nbackend = "demo"\n'
    body += f"name = {json.dumps(name)}\n" if key == "name" else \
        f'name = "ok"\nsession = {json.dumps(name)}\n'
    path = write_config(tmp_path / "proj", body)
    with pytest.raises(config_mod.ConfigError) as caught:
        config_mod.load(path)
    message = str(caught.value)
    assert NAME_RULE in message
    assert re.match(rf"{re.escape(str(path))}:\d+: agent(\.ok|\[0\])\.{key}: ", message), message
    assert not [c for c in message if unicodedata.category(c) in ("Cc", "Cf")], message
    assert len(message) < 300
    assert_harmless(tmp_path, sandbox[1])


def test_t31_hostile_prefix_is_rejected(tmp_path: Path, sandbox: tuple[Path, Path]) -> None:
    """FAULT: a `session_prefix` (the start of every session name) with hostile characters.
    EXPECTED: each is rejected with the prefix rule in the message."""
    for case, prefix in HOSTILE_NAMES.items():
        if case in ("300-chars", "empty"):
            continue  # a long prefix is literal text to tmux; an empty one is "required"
        path = write_config(tmp_path / case, '[[agent]]\nname = "a"\nbackend = "demo"\n',
                            prefix=prefix.replace("\n", "\\n"))
        with pytest.raises(config_mod.ConfigError, match="session_prefix"):
            config_mod.load(path)
    assert_harmless(tmp_path, sandbox[1])


def test_t31_hostile_names_never_reach_the_event_log_raw(tmp_path: Path) -> None:
    """FAULT: an event is recorded about an agent whose name is hostile (the watchdog must
    be able to record anything, e.g. about a session it found on a shared server).
    EXPECTED: the `agent` field is always a valid name: no control, bidi or tmux/shell
    syntax character, at most 64 characters."""
    for name in HOSTILE_NAMES.values():
        eventlog.append(tmp_path, [Event(1e9, name, "adopt", "x")])
    for record in eventlog.read(tmp_path):
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", str(record["agent"])), record


@pytest.mark.tmux
def test_t31_up_with_hostile_names_starts_no_tmux(tmp_path: Path, tmux_socket: str,
                                                  sandbox: tuple[Path, Path]) -> None:
    """FAULT: `agents up` on a config whose agents carry every hostile name.
    EXPECTED: exit status 1, every bad name reported, no tmux server ever started on the
    fleet's socket (so no session exists for any of them), no canary."""
    body = ""
    for index, name in enumerate(HOSTILE_NAMES.values()):
        body += f'[[agent]]\nname = "n{index}"\nsession = {json.dumps(name)}\nbackend = "demo"\n'
        body += f'[[agent]]\nname = {json.dumps(name)}\nbackend = "demo"\n'
    path = write_config(tmp_path / "proj", body, socket=tmux_socket)
    result = subprocess.run([sys.executable, "-m", "agent_orchestrator", "up", "--config",
                             str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    # Every name, as a name and as a session.
    assert result.stderr.count(NAME_RULE) >= 2 * len(HOSTILE_NAMES), result.stderr
    assert "Traceback" not in result.stderr
    # No server was ever started: its socket file does not even exist.
    socket_file = Path(os.environ["TMUX_TMPDIR"]) / f"tmux-{os.getuid()}" / tmux_socket
    assert not socket_file.exists() and sessions(tmux_socket) == set()
    assert_harmless(tmp_path, sandbox[1])


# --------------------------------------------------------------------------- T32

# Every piece something would interpret: a shell, tmux's key names and formats, a terminal
# (ESC[201~ ends a bracketed paste), line ends, a trailing `;` (send-keys would eat it).
PIECES = ("$(rm -rf ~)", "$(touch canary1)", "`touch canary2`", "'single' \"double\"",
          "back\\slash \\n \\\\", "C-c", "Enter", "#(touch canary3)", "#{session_name}",
          "\x1b[201~; touch canary4", "crlf\r\nnext", "tab\there", "-- --help -x",
          "ünïcödé ␞ \u202edesrever\u202c", "ends;")
KICKOFF = " ".join(PIECES) + "\n;"


def typed_form(text: str) -> str:
    """What typing `text` must deliver, written out independently of delivery.sanitize:
    the only control characters in these texts are CR (of CRLF) and ESC."""
    return text.replace("\r\n", "\n").replace("\x1b", "")


@pytest.mark.tmux
@pytest.mark.slow
def test_t32_200kb_hostile_text_is_typed_exactly(tmux_socket: str, tmp_path: Path,
                                                sandbox: tuple[Path, Path]) -> None:
    """FAULT: 200 KB of typed text (a nudge, wake or ping) full of shell, tmux and terminal
    syntax, CRLF line ends, and a trailing `;`.
    EXPECTED: the agent receives it once, whole, byte for byte but for the sanitising rule
    (CRLF → LF, ESC dropped); the trailing `;` is there; no canary, HOME intact; the named
    paste buffer is deleted."""
    tmux = Tmux(tmux_socket)
    record = tmp_path / "rec.jsonl"
    start_demo(tmux, {"agent": record})
    chunk = " ".join(PIECES) + "\r\n"
    text = chunk * (200_000 // len(chunk) + 1) + "the end;"
    assert len(text.encode()) > 200_000
    result = deliver(tmux, "agent", text)
    assert result.delivered, result.detail
    got = wait_until(lambda: inputs(record), timeout=20, what="the input")
    assert got == [typed_form(text)]
    assert got[0].endswith("the end;") and "\x1b" not in got[0] and "[201~; touch" in got[0]
    assert buffers(tmux_socket) == ""
    assert_harmless(tmp_path, sandbox[1])


@pytest.mark.tmux
def test_t32_paste_end_sequence_cannot_type_keys(tmux_socket: str, tmp_path: Path,
                                                 sandbox: tuple[Path, Path]) -> None:
    """FAULT: typed text holding `ESC[201~` (end of bracketed paste) followed by a CR and a
    line the agent would run as a command.
    EXPECTED: the text stays one pasted input, ESC removed and CR turned into a newline; the
    command never runs (no canary). Control: the same bytes pasted raw DO run it, so the
    sanitising is what protects."""
    tmux = Tmux(tmux_socket)
    safe, raw = tmp_path / "rec-safe.jsonl", tmp_path / "rec-raw.jsonl"
    start_demo(tmux, {"safe": safe, "raw": raw})
    work, home = sandbox
    hostile = f"hello\x1b[201~\r/fake run touch {work}/canary-safe\rbye"
    assert deliver(tmux, "safe", hostile).delivered
    assert wait_until(lambda: inputs(safe), what="the input") == [
        f"hello[201~\n/fake run touch {work}/canary-safe\nbye"]
    holds_for(lambda: not canaries(work), 0.5, what="no canary")
    assert buffers(tmux_socket) == ""
    tmux.paste("raw", hostile.replace("safe", "raw"), buffer="control")
    tmux.send_keys("raw", "Enter")
    wait_until(lambda: (work / "canary-raw").exists(), what="the unsanitised control canary")
    assert not (work / "canary-safe").exists()


@pytest.mark.tmux
def test_t32_failed_paste_leaves_no_buffer(tmux_socket: str, tmp_path: Path) -> None:
    """FAULT: the target pane vanished between loading the paste buffer and pasting it.
    EXPECTED: TmuxError for the caller, and the named buffer (it holds the prompt) is
    deleted anyway."""
    tmux = Tmux(tmux_socket)
    start_demo(tmux, {"other": tmp_path / "rec.jsonl"})  # a server must be running
    with pytest.raises(TmuxError, match="paste-buffer"):
        deliver(tmux, "gone", "secret prompt text")
    assert buffers(tmux_socket) == ""


def _kickoff_config(mode: str, folder: Path, record: Path, socket: str) -> Path:
    if mode == "arg":
        backend = f'''
            [backend.hostile]
            bin = "{{python}} -m agent_orchestrator.fakeagent"
            flags = "--record {record} --busy 0.2"
            model_flag = "--model '{{model}}'"
        '''
    elif mode == "exec":
        backend = f'''
            [backend.hostile]
            bin = "FOO=bar {{python}} -m agent_orchestrator.fakeagent --record {record} --model '{{model}}' {{kickoff_text}}"
            prompt_delivery = "exec"
        '''  # noqa: E501
    else:
        backend = f'''
            [backend.hostile]
            bin = "{{python}} -m agent_orchestrator.fakeagent --record {record} --busy 0.2"
            prompt_delivery = "ping"
            connect_delay = 0.3
        '''
    # Inline, not a prompt_file: Python reads text files with universal newlines (CRLF → LF).
    return write_config(folder, backend + f"""
        [[agent]]
        name = "x"
        backend = "hostile"
        model = "m'1 $(touch canary5)"
        prompt = {json.dumps(KICKOFF)}
    """, socket=socket)


@pytest.mark.tmux
@pytest.mark.parametrize("mode", ["arg", "exec", "ping"])
def test_t32_kickoff_arrives_exactly_in_every_delivery(mode: str, tmux_socket: str,
                                                       tmp_path: Path,
                                                       sandbox: tuple[Path, Path]) -> None:
    """FAULT: a kickoff (and a model name) full of shell, tmux and terminal syntax, started
    through each delivery: arg (one argv word), exec (a shell template) and ping (a file
    plus a typed boot line).
    EXPECTED: arg/exec: the program's last argument is the kickoff byte for byte (no
    terminal is involved, so nothing is stripped) and `--model` is the model verbatim;
    ping: the kickoff file holds it byte for byte and the boot line is typed; no canary,
    HOME intact, no paste buffer left."""
    record = tmp_path / "rec.jsonl"
    config = config_mod.load(_kickoff_config(mode, tmp_path / "proj", record, tmux_socket))
    fleet.up(config, Tmux(tmux_socket), ["x"])
    kickoff = launch.kickoff_file(config, "t-x")
    if mode == "ping":
        line = wait_until(lambda: next(iter(inputs(record)), None), what="the boot line")
        assert line == config_mod.BOOT_LINE.replace("{kickoff_file}", str(kickoff))
    else:
        argv = wait_until(lambda: start_event(record), what="the argv record")["argv"]
        assert argv[-1] == KICKOFF
        assert argv[argv.index("--model") + 1] == "m'1 $(touch canary5)"
    assert kickoff.read_bytes() == KICKOFF.encode()
    assert buffers(tmux_socket) == ""
    assert_harmless(tmp_path, sandbox[1])


@pytest.mark.tmux
def test_t32_200kb_kickoff_as_an_argument_is_refused_clearly(
        tmux_socket: str, tmp_path: Path) -> None:
    """FAULT: a 200 KB kickoff with `arg` delivery: more than Linux passes in one argument
    (MAX_ARG_STRLEN, 128 KiB).
    EXPECTED: `agents up` refuses it with a message naming the size limit (and suggesting
    ping delivery) instead of starting a pane that dies with E2BIG."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "big.md").write_text(("x" * 99 + "\n") * 2_000)
    path = write_config(folder, f"""
        [backend.demo]
        flags = "--record {tmp_path / 'rec.jsonl'}"

        [[agent]]
        name = "x"
        backend = "demo"
        prompt_file = "big.md"
    """, socket=tmux_socket)
    result = subprocess.run([sys.executable, "-m", "agent_orchestrator", "up", "x", "--config",
                             str(path)], capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode != 0
    assert re.search(r"too (long|big)|limit", result.stdout + result.stderr, re.I)
    assert "t-x" not in sessions(tmux_socket)


@pytest.mark.tmux
@pytest.mark.slow
def test_t32_watchdog_wake_types_hostile_file_sanitised(make_fleet, tmp_path: Path,
                                                        sandbox: tuple[Path, Path]) -> None:
    """FAULT: the watchdog types a user file (a `wake` prompt) holding shell/tmux syntax and
    a paste-end sequence followed by a line the agent runs as a command.
    EXPECTED: the agent receives the file's text with whitespace collapsed (SPEC) and ESC
    dropped, as ONE input; nothing runs (no canary); no paste buffer is left."""
    work, home = sandbox
    wake = tmp_path / "wake.md"
    wake.write_bytes(f"wake up $(touch canary6) #(touch canary7) #{{session_name}}\r\n"
                     f"\x1b[201~\r/fake run touch {work}/canary8\r\nnow;".encode())
    agent = demo_agent("a", tmp_path).replace(
        'watch = "heal"', f'watch = "heal"\n        wake = {{ interval = 1, prompt_file = '
        f'"{wake}" }}')
    fleet = make_fleet("[watchdog]\nsignal_interval = 0.3\n" + agent)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event("a", "wake", timeout=20)
    expected = f"wake up $(touch canary6) #(touch canary7) #{{session_name}} [201~ /fake run " \
               f"touch {work}/canary8 now;"
    typed = wait_until(lambda: [t for t in inputs(tmp_path / "rec-a") if t.startswith("wake")],
                       what="the wake text")
    assert typed[0] == expected
    assert buffers(fleet.socket) == ""
    assert_harmless(tmp_path, home)


@pytest.mark.tmux
def test_t32_two_agents_typed_at_once_get_their_own_text(
        tmux_socket: str, tmp_path: Path, sandbox: tuple[Path, Path]) -> None:
    """FAULT: two agents are typed into at the same moment (one tick, two threads) while a
    human has text in tmux's unnamed (global) paste buffer.
    EXPECTED: each agent receives only its own text, once; the human's buffer is untouched
    and still the one a plain `paste-buffer` (prefix+]) pastes; none of ours is left."""
    tmux = Tmux(tmux_socket)
    recs = {name: tmp_path / f"rec-{name}.jsonl" for name in ("a", "b", "human")}
    start_demo(tmux, recs)
    tmux_cmd(tmux_socket, "set-buffer", "HUMAN text")
    texts = {"a": "for a only: " + "A" * 500 + " ;", "b": "for b only: " + "B" * 500 + " ;"}
    results: dict[str, object] = {}
    threads = [threading.Thread(target=lambda n=name: results.update({n: deliver(
        tmux, n, texts[n])})) for name in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(r.delivered for r in results.values()), results  # type: ignore[attr-defined]
    for name, text in texts.items():
        assert wait_until(lambda n=name: inputs(recs[n]), what=f"{name}'s input") == [text]
    assert buffers(tmux_socket).split() == ["buffer0"]
    tmux_cmd(tmux_socket, "paste-buffer", "-t", "=human:")
    tmux_cmd(tmux_socket, "send-keys", "-t", "=human:", "Enter")
    assert wait_until(lambda: inputs(recs["human"]), what="the human's paste") == ["HUMAN text"]
    assert_harmless(tmp_path, sandbox[1])


class HumanPastesBetweenCalls(Tmux):
    """A Tmux whose every call is followed by a human pressing prefix+] (plain
    `paste-buffer`, tmux's newest buffer) and Enter in the pane `human`: whatever state a
    delivery leaves the server in between two of its tmux calls, the human sees it."""

    def _run(self, args, **kwargs):  # type: ignore[no-untyped-def, override]
        result = super()._run(args, **kwargs)
        for human in (["paste-buffer", "-t", "=human:"], ["send-keys", "-t", "=human:", "Enter"]):
            super()._run(human, check=False)
        return result


@pytest.mark.tmux
def test_t32_human_pasting_during_a_delivery_gets_only_the_humans_text(
        tmux_socket: str, tmp_path: Path, sandbox: tuple[Path, Path]) -> None:
    """FAULT: while the watchdog types into an agent, a human pastes into another pane with
    tmux's plain paste (unnamed buffer) — here after every single tmux call of the delivery.
    EXPECTED: the agent receives its text once; the human's pane receives only the
    human's own text, never the agent's (which may hold secrets of another project)."""
    tmux = HumanPastesBetweenCalls(tmux_socket)
    recs = {name: tmp_path / f"rec-{name}.jsonl" for name in ("a", "human")}
    start_demo(Tmux(tmux_socket), recs)
    tmux_cmd(tmux_socket, "set-buffer", "HUMAN text")
    text = "for a only: the kickoff of another project ;"
    assert deliver(tmux, "a", text).delivered
    assert wait_until(lambda: inputs(recs["a"]), what="a's input") == [text]
    human = wait_until(lambda: inputs(recs["human"]), what="the human's pastes")
    assert set(human) == {"HUMAN text"}, human
    assert buffers(tmux_socket).split() == ["buffer0"]
    assert_harmless(tmp_path, sandbox[1])


# --------------------------------------------------------------------------- T33

HOSTILE_DIR = "-dir it's \"q\" $(touch canary) `touch canary` ;x"


def _hostile_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(project, workdir, outside): a project folder and an agent folder with every
    hostile character, and a folder outside the project reached through a symlink."""
    project = tmp_path / f"-proj {HOSTILE_DIR}"
    work = tmp_path / f"-work {HOSTILE_DIR}"
    outside = tmp_path / "outside the project"
    for folder in (project, work / "sub", outside, tmp_path / f"prompts {HOSTILE_DIR}"):
        folder.mkdir(parents=True)
    (project / "link out").symlink_to(outside)
    (tmp_path / f"prompts {HOSTILE_DIR}" / "-p 'q'.md").write_text("path prompt ;\n")
    return project, work, outside


@pytest.mark.tmux
def test_t33_hostile_paths_work_literally(tmux_socket: str, tmp_path: Path,
                                          sandbox: tuple[Path, Path]) -> None:
    """FAULT: the project folder, the agents' `dir` and `prompt_file` hold blanks, quotes,
    `$()`, backticks, `;`, a leading `-` and `..`; one `dir` is a symlink out of the
    project. Started through arg, exec and ping delivery (with logs piped by logcap).
    EXPECTED: each agent runs with its cwd exactly that folder (the symlink's target: there
    is no allowed root, a folder anywhere is the user's choice), the prompt text arrives,
    the session logs are written under the hostile project path, nothing is executed."""
    project, work, outside = _hostile_tree(tmp_path)
    recs = tmp_path / "recs"
    recs.mkdir()
    prompt = f"../prompts {HOSTILE_DIR}/-p 'q'.md"
    rel_work = f"../-work {HOSTILE_DIR}/sub/.."
    demo = "{python} -m agent_orchestrator.fakeagent --busy 0.2"
    body = f"""
        [backend.viaarg]
        bin = "{demo} --record {recs}/arg"

        [backend.viaexec]
        bin = "{demo} --record {recs}/exec --name {{dir}} --model {{kickoff}} {{kickoff_text}}"
        prompt_delivery = "exec"

        [backend.viaping]
        bin = "{demo} --record {recs}/ping"
        attach = "cd {{dir}} && {{bin}}"
        prompt_delivery = "ping"
        connect_delay = 0.3

        [backend.vialink]
        bin = "{demo} --record {recs}/link"
    """
    for mode in ("arg", "exec", "ping", "link"):
        body += f"""
        [[agent]]
        name = "{mode}"
        backend = "via{mode}"
        dir = {json.dumps("link out" if mode == "link" else rel_work)}
        prompt_file = {json.dumps(prompt)}
        """
    config = config_mod.load(write_config(project, body, socket=tmux_socket))
    tmux = Tmux(tmux_socket)
    fleet.up(config, tmux, ["arg", "exec", "ping", "link"])
    for mode in ("arg", "exec", "ping", "link"):
        start = wait_until(lambda m=mode: start_event(recs / m), what=f"{mode} start")
        assert start["cwd"] == str(outside if mode == "link" else work)
        if mode != "ping":
            assert start["argv"][-1] == "path prompt ;\n"
    argv = start_event(recs / "exec")["argv"]  # type: ignore[index]
    assert argv[argv.index("--name") + 1] == str(work)
    assert argv[argv.index("--model") + 1] == str(launch.kickoff_file(config, "t-exec"))
    line = wait_until(lambda: next(iter(inputs(recs / "ping")), None), what="boot line")
    kickoff = str(launch.kickoff_file(config, "t-ping"))
    assert line == render_boot_line(config_mod.BOOT_LINE, kickoff)
    assert kickoff in line  # the path is there literally (escaped only inside the quotes)
    for mode in ("arg", "exec", "ping", "link"):
        log = launch.log_file(config, f"t-{mode}")
        assert str(log).startswith(str(project))
        wait_until(lambda lg=log: lg.exists() and lg.stat().st_size > 0, what=f"{mode} log")
    assert_harmless(tmp_path, sandbox[1])


def test_t33_boot_line_command_is_one_word_per_path(tmp_path: Path,
                                                    sandbox: tuple[Path, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """FAULT: the ping boot line tells the agent to run `cat '<kickoff file>'`; the file
    lives under a project folder whose name holds `'`, `$()` and backticks.
    EXPECTED: that command, run by a shell as an agent would, prints the kickoff text
    exactly and runs nothing else (no canary)."""
    project, _work, _outside = _hostile_tree(tmp_path)
    # No runtime folder: the kickoff file falls back to the (hostile) state folder.
    monkeypatch.setattr("agent_orchestrator.doors.rundir.base", lambda: None)
    path = write_config(project, """
        [backend.tui]
        bin = "tui"
        prompt_delivery = "ping"

        [[agent]]
        name = "x"
        backend = "tui"
        prompt = "the kickoff ;"
    """)
    config = config_mod.load(path)
    plan = launch.plan_agent(config, config.agents[0])
    assert plan.boot_line is not None
    kickoff = launch.kickoff_file(config, "t-x")
    assert str(project) in str(kickoff)
    kickoff.write_text(plan.kickoff)
    # The `cat '...'` the agent is told to run (the path itself holds backticks).
    command = re.fullmatch(r".*with: `(.*)` — then follow it exactly\.", plan.boot_line)[1]
    assert shlex.split(command) == ["cat", str(kickoff)]
    shown = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                           cwd=sandbox[0], check=False, timeout=10)
    assert shown.stdout == "the kickoff ;"
    assert_harmless(tmp_path, sandbox[1])
