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
from conftest import clone_repo, git, wait_until

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
    assert "agent demo (demo): stopped — `agents down` stopped it" in plain.stdout
    assert "agents up demo" in plain.stdout and "regex" not in plain.stdout
    assert "no running screen" in plain.stdout and "error" not in plain.stderr.lower()

    assert agents("up", "quits", "demo", "--config", str(path)).returncode == 0
    body = wait_until(lambda: (b := explained(path, "quits"))["state"] == "exited" and b,
                      what="the quitting agent to show as exited")
    assert body["why"].startswith("exited (3): its program ended")
    assert "agents logs quits" in body["why"]
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


# ----------------------------------------------------------------------------- doctor

def fake_tmux(folder: Path, says: str) -> dict[str, str]:
    """An environment whose PATH holds a `tmux` that prints `says` for `-V`, and python."""
    folder.mkdir()
    script = folder / "tmux"
    script.write_text(f"#!/bin/sh\necho '{says}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{Path(sys.executable).parent}"}


@pytest.mark.parametrize(("says", "line"), [
    ("tmux 3.3a", "  ok  tmux: tmux 3.3a"),
    ("tmux next-3.5", "  ok  tmux: tmux next-3.5"),
    ("tmux 3.1c", "fail  tmux: tmux 3.1c is too old: 3.2 or newer is needed")])
def test_doctor_prints_tmux_whole_version(tmp_path: Path, says: str, line: str) -> None:
    result = agents("doctor", cwd=tmp_path, env=fake_tmux(tmp_path / "bin", says))
    assert line in result.stdout.splitlines(), result.stdout
    assert result.returncode == (1 if "fail" in line else 0)


def test_doctor_without_tmux_says_so_cleanly(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    env = {**os.environ, "PATH": str(bare)}  # no tmux, no git
    result = subprocess.run([sys.executable, "-m", "agent_orchestrator", "doctor"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "fail  tmux: not installed (no 'tmux' on PATH): install tmux 3.2 or newer " \
        "(e.g. apt-get install tmux, brew install tmux)" in result.stdout


# ----------------------------------------------------------------------------- init

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_a_commented_private_starter_that_checks(tmp_path: Path) -> None:
    target = tmp_path / "new" / "proj"
    made = agents("init", str(target), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    text = (target / "agents.toml").read_text()
    assert text.count("[[agent]]") == 3 and "[[loop.phases]]" in text
    assert text.startswith("# agents.toml, written by `agents init`")
    assert 'plan = "PLAN.md"' in text and (target / "PLAN.md").read_text().startswith("# Plan")
    written = [target / "agents.toml", target / "PLAN.md",
               *(target / "prompts").iterdir()]
    assert len(written) == 5 and {mode(p) for p in written} == {0o600}
    assert {mode(p) for p in (target / "prompts", target, target.parent)} == {0o700}
    assert f"next: cd {target} && agents check && agents up" in made.stdout
    checked = agents("check", cwd=target)
    assert checked.returncode == 0 and "3 agents" in checked.stdout, checked.stderr


def test_init_in_an_existing_project_keeps_its_folder_and_plan(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir(mode=0o755)
    project.chmod(0o755)
    (project / "PLAN.md").write_text("my own plan\n")
    made = agents("init", cwd=project)
    assert made.returncode == 0, made.stderr
    assert mode(project) == 0o755 and (project / "PLAN.md").read_text() == "my own plan\n"
    assert "wrote" in made.stdout and str(project / "PLAN.md") not in made.stdout
    assert "next: agents check && agents up" in made.stdout  # no `cd .`


@pytest.mark.parametrize("verb", ["init", "selftest"])
def test_verbs_that_read_no_config_have_no_config_option(tmp_path: Path, verb: str) -> None:
    assert "--config" not in agents(verb, "--help").stdout
    wrong = agents(verb, "--config", "x.toml", cwd=tmp_path)
    assert wrong.returncode == 2 and "unrecognized arguments: --config" in wrong.stderr
    assert not (tmp_path / "agents.toml").exists()


# ----------------------------------------------------------------------------- README

def test_readme_walkthrough_shows_the_operators_day() -> None:
    """(The verbs table itself is checked against the parser in test_readme.py.)"""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    walk = readme.split("### A walk through the demo fleet", 1)[1].split("```", 2)[1]
    for command in ("agents restart", "agents attach", "agents send alpha --when-idle",
                    "agents status alpha"):
        assert f"$ {command}" in walk


# ----------------------------------------------------------------------------- phases

def test_reopening_the_sequence_removes_its_marker_and_saves_the_phase(
        make_config: Callable[..., Path]) -> None:
    """What looprules asks when `agents phase set N` follows the end: the phase saved, and
    SEQUENCE-COMPLETE gone so the next completion writes it (and reports it) afresh."""
    from agent_orchestrator.core.decisions import SetPhase
    from agent_orchestrator.doors import markers
    from agent_orchestrator.runtime import apply

    path = make_config('[loop]\nphases = [{ id = "a", status = "A.md" }, '
                       '{ id = "b", status = "B.md" }]\n')
    config = config_mod.load(path)
    markers.ensure_dirs(config)
    marker = config.log_dir / "SEQUENCE-COMPLETE"
    marker.write_text("last phase b DONE\n")
    recorded: list[object] = []
    apply.apply_one(None, config, SetPhase(1, "advance"), recorded.extend)  # type: ignore[arg-type]
    assert marker.exists() and markers.phase_index(config) == 1
    apply.apply_one(None, config, SetPhase(0, "reopened", reopen=True),  # type: ignore[arg-type]
                    recorded.extend)
    assert not marker.exists() and markers.phase_index(config) == 0 and recorded == []


def test_phase_show_reads_the_pushed_status_files_of_the_handoff_repo(
        make_config: Callable[..., Path], tmp_path: Path) -> None:
    """With a handoff repo, each phase's state is its status file as pushed to origin/main
    (state_subdir first), not anyone's working tree; numbered from 1 like the header."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    work = clone_repo(origin, tmp_path / "work")
    (work / "docs").mkdir()
    (work / "docs" / "S-a.md").write_text("# a\n## DONE\nparser shipped at abc\n")
    (work / "S-b.md").write_text("# b\n## DONE\n_to be written_\n")
    git(work, "add", ".")
    git(work, "commit", "-qm", "status")
    git(work, "push", "-q", "origin", "HEAD:main")
    (work / "S-c.md").write_text("# c\n## DONE\nnot pushed\n")  # a working tree only
    watch = clone_repo(origin, tmp_path / "watch")
    path = make_config(f"""
        [[agent]]
        name = "builder"
        kind = "loop"
        role = "builder"
        backend = "demo"

        [[agent]]
        name = "adversary"
        kind = "loop"
        role = "adversary"
        backend = "demo"

        [loop]
        roles_dir = "."
        handoff = {{ repo = "{watch}", state_subdir = "docs" }}
        phases = [{{ id = "a", status = "S-a.md" }}, {{ id = "b", status = "S-b.md" }},
                  {{ id = "c", status = "S-c.md" }}]
    """)
    for role in ("builder", "adversary"):
        (path.parent / f"{role}.md").write_text(role)
    shown = agents("phase", "show", "--config", str(path))
    assert shown.returncode == 0, shown.stderr
    assert [line.split()[:4] for line in shown.stdout.splitlines()[:3]] == [
        ["→", "1/3", "a", "DONE"], ["2/3", "b", "not", "yet"], ["3/3", "c", "missing",
                                                                "S-c.md"]]
    assert f"status files: origin/main of {watch} (as last fetched)" in shown.stdout


LOOP_FLEET = """
[watchdog]
signal_interval = 0.3
heavy_interval = 0.3

[[agent]]
name = "b"
kind = "loop"
role = "builder"
backend = "demo"

[[agent]]
name = "fin"
kind = "task"
backend = "demo"
enabled = false
prompt = "report"

[loop]
roles_dir = "."
on_complete = { run = "fin" }
phases = [{ id = "one", status = "S-one.md" }, { id = "two", status = "S-two.md" }]
"""


@pytest.mark.tmux
def test_phase_set_after_the_sequence_completed_runs_that_phase(make_fleet: Callable,
                                                               tmp_path: Path) -> None:
    """End to end: both phases DONE → SEQUENCE-COMPLETE, `fin` started; the operator
    reopens phase 1 (its status file reset) → the loop runs phase 1, not phase 2; the marker
    is gone; `fin` is not started again."""
    (tmp_path / "builder.md").write_text("build")
    for phase in ("one", "two"):
        (tmp_path / f"S-{phase}.md").write_text(f"## DONE\n{phase} shipped\n")
    fleet = make_fleet(LOOP_FLEET)
    assert fleet.agents("up").returncode == 0
    fleet.wait_event(None, "sequence-complete")
    marker = tmp_path / "logs" / "SEQUENCE-COMPLETE"
    wait_until(marker.exists, what="SEQUENCE-COMPLETE written")  # after the event
    assert len(fleet.events("fin", "start")) == 1
    (tmp_path / "S-one.md").write_text("## DONE\nnot yet\n")
    moved = fleet.agents("phase", "set", "1")
    assert moved.returncode == 0 and "phase 1/2: one" in moved.stdout, moved.stderr
    assert "runs again" in moved.stdout
    changed = fleet.wait_event(None, "phase-changed")
    assert "phase set to 1/2 one" in changed["reason"]
    wait_until(lambda: not marker.exists(), what="SEQUENCE-COMPLETE removed")
    header = wait_until(lambda: (d := json.loads(fleet.agents("status", "--json").stdout))
                        ["phase"] == "1/2 one, DONE pending" and d, what="phase 1 running")
    assert {a["agent"]: a["state"] for a in header["agents"]}["b"] != "done"
    assert fleet.events(None, "phase-resumed") == []
    assert len(fleet.events("fin", "start")) == 1 and \
        len(fleet.events(None, "sequence-complete")) == 1
    # phase 1 DONE again → phase 2 (DONE) → complete again; then the phase it completed on
    (tmp_path / "S-one.md").write_text("## DONE\none shipped again\n")
    fleet.wait_event(None, "sequence-complete", after=1, timeout=30)
    wait_until(marker.exists, what="SEQUENCE-COMPLETE written again")
    (tmp_path / "S-two.md").write_text("## DONE\nnot yet\n")
    again = fleet.agents("phase", "set", "2")
    assert again.returncode == 0 and "phase 2/2: two" in again.stdout, again.stderr
    changed = fleet.wait_event(None, "phase-changed", after=1)
    assert "phase set to 2/2 two" in changed["reason"]
    wait_until(lambda: not marker.exists(), what="SEQUENCE-COMPLETE removed again")
    assert not (tmp_path / "logs" / "state" / "phase-rerun").exists()  # the request met
