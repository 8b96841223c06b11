"""The builder/adversary loop end to end: real git (a bare origin and clones), the demo agent
as both agents on a private tmux server, the real watchdog relaying and advancing phases."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import sessions, wait_until

pytestmark = pytest.mark.tmux


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def clone(origin: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True, timeout=30)
    git(where, "config", "user.name", "t")
    git(where, "config", "user.email", "t@example.invalid")
    return where


def push(repo: Path, subject: str, files: dict[str, str] | None = None,
         pull: bool = True) -> str:
    for name, text in (files or {}).items():
        (repo / name).write_text(text)
        git(repo, "add", name)
    git(repo, "commit", "-q", "--allow-empty", "-m", subject)
    if pull:
        git(repo, "pull", "-q", "--rebase")
    git(repo, "push", "-q", "origin", "HEAD:main")
    return git(repo, "rev-parse", "HEAD")


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def inputs(path: Path) -> list[str]:
    return [r["text"] for r in records(path) if r["event"] == "input"]


def starts(path: Path) -> list[list[str]]:
    return [r["argv"] for r in records(path) if r["event"] == "start"]


def test_builder_adversary_loop(tmp_path: Path, tmux_socket: str) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed = clone(origin, tmp_path / "seed")
    push(seed, "initial", {"README": "project\n"}, pull=False)
    builder, adversary = clone(origin, tmp_path / "b"), clone(origin, tmp_path / "a")
    watch = clone(origin, tmp_path / "watch")
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "kickoff.md").write_text("Phase {phase_id} as {role}; status {status}.\n")
    (prompts / "builder.md").write_text("Build.\n")
    (prompts / "adversary.md").write_text("Verify.\n")
    (tmp_path / ".run-on-complete").write_text("x")
    config = tmp_path / "agents.toml"
    config.write_text(textwrap.dedent(f"""
        [defaults]
        session_prefix = "l-"
        log_dir = "logs"
        tmux_socket = "{tmux_socket}"
        backend = "demo"
        watch = "heal"

        [watchdog]
        signal_interval = 0.3
        heavy_interval = 0.3

        [backend.demo]
        flags = "--busy 0.2 --record {tmp_path}/rec-{{session}}.jsonl"

        [[agent]]
        name = "builder"
        kind = "loop"
        role = "builder"
        model = "base"
        dir = "b"

        [[agent]]
        name = "adversary"
        kind = "loop"
        role = "adversary"
        dir = "a"

        [[agent]]
        name = "finisher"
        kind = "task"
        enabled = false
        prompt = "wrap up"

        [loop]
        kickoff_template = "prompts/kickoff.md"
        handoff = {{ repo = "watch", state_subdir = "" }}
        on_complete = {{ run = "finisher" }}

        [[loop.phases]]
        id = "one"
        status = "STATUS-1.md"
        models = {{ builder = "model-one" }}

        [[loop.phases]]
        id = "two"
        status = "STATUS-2.md"
        models = {{ builder = "model-two" }}
        verify = ["test -f GATE"]
    """))
    rec_b, rec_a = tmp_path / "rec-l-builder.jsonl", tmp_path / "rec-l-adversary.jsonl"

    def agents(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args, "--config",
                               str(config)], capture_output=True, text=True, timeout=30)

    def events(kind: str) -> list[dict]:
        path = tmp_path / "logs" / "events.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [e for e in map(json.loads, lines) if e["event"] == kind]

    def memory() -> dict:
        path = tmp_path / "logs" / "state" / "watchdog.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def finisher() -> tuple[str, str]:
        rows = json.loads(agents("status", "--json").stdout)["agents"]
        row = next(r for r in rows if r["agent"] == "finisher")
        return row["state"], row["detail"]

    # The watchdog's fetches fail until the builder's first claim is pushed: that claim lands
    # before the first poll (the race of a fast builder, forced) and must still be relayed.
    git(watch, "remote", "set-url", "origin", str(tmp_path / "not-yet.git"))
    try:
        assert agents("up").returncode == 0
        # the on_complete agent is waiting for its moment, not "disabled"
        assert finisher() == ("stopped", "starts when the sequence is complete")
        first = wait_until(lambda: starts(rec_b), what="the builder to start")[0]
        assert first[first.index("--model") + 1] == "model-one"
        assert first[-1].startswith("Phase one as builder; status STATUS-1.md.")
        early = push(builder, "claim: before the first fetch")
        wait_until(lambda: events("git-error"), what="the first fetch to fail")
        assert not memory().get("loop", {}).get("seen_sha")
        git(watch, "remote", "set-url", "origin", str(origin))
        wait_until(lambda: [t for t in inputs(rec_a) if early[:12] in t],
                   what="the early claim's ping")
        wait_until(lambda: memory().get("loop", {}).get("seen_sha") == early,
                   what="the baseline after it")

        claim = push(builder, "claim: gate A works")
        ping = wait_until(lambda: [t for t in inputs(rec_a) if claim[:12] in t],
                          what="the adversary's ping")[0]
        assert claim[:12] in ping and "'claim: gate A works'" in ping
        review = push(adversary, "review: gate A accepted")
        ping = wait_until(lambda: [t for t in inputs(rec_b) if "review" in t],
                          what="the builder's ping")[0]
        assert review[:12] in ping

        push(builder, "status: placeholder", {"STATUS-1.md": "# one\n## DONE\nnot yet\n"})
        marker = push(builder, "claim: gate B")  # once relayed, DONE was judged too
        wait_until(lambda: [t for t in inputs(rec_a) if marker[:12] in t], what="gate B ping")
        wait_until(lambda: memory()["loop"]["seen_sha"] == marker, what="the tick after")
        assert not events("phase-advance")
        assert (tmp_path / "logs" / "state" / "phase-idx").exists() is False
        wait_until(lambda: "phase: 1/2 one, DONE pending" in agents("status").stdout,
                   what="status to show DONE pending")

        done = push(builder, "status: done", {"STATUS-1.md": "# one\n## DONE\nGates A, B.\n"})
        advance = wait_until(lambda: events("phase-advance"), what="the phase advance")[0]
        assert done[:12] in advance["reason"]
        # The event is recorded before the tick's actions run: the index follows at once.
        index = tmp_path / "logs" / "state" / "phase-idx"
        wait_until(lambda: index.exists() and index.read_text().strip() == "1",
                   what="the phase index to be 1")
        second = wait_until(lambda: starts(rec_b)[1:], what="the builder on phase two")[0]
        assert second[second.index("--model") + 1] == "model-two"
        assert second[-1].startswith("Phase two as builder; status STATUS-2.md.")

        (watch / "GATE").write_text("only in a working tree: must not count\n")
        push(builder, "status: done two", {"STATUS-2.md": "## DONE\nAll done.\n"})
        failed = wait_until(lambda: events("verify-failed"), timeout=20,
                            what="the verify gate to fail")[0]
        assert "`test -f GATE` exited 1" in failed["reason"]
        gate = [e["reason"] for e in events("verify-done")]  # the gate's own end, with its result
        assert gate and gate[0].startswith("failed at ") and "`test -f GATE` exited 1" in gate[0]
        told = wait_until(lambda: [t for t in inputs(rec_b) if "verify" in t],
                          what="the builder to be told")[0]
        assert "test -f GATE" in told
        assert not events("sequence-complete")
        wait_until(lambda: "phase: 2/2 two, DONE, verify failed" in agents("status").stdout,
                   what="status to show the failed gate")

        push(builder, "gate file", {"GATE": "ok\n"})
        wait_until(lambda: events("sequence-complete"), timeout=20, what="completion")
        wait_until((tmp_path / "logs" / "SEQUENCE-COMPLETE").exists, what="the marker file")
        wait_until(lambda: "l-finisher" in sessions(tmux_socket), what="the on_complete agent")
        wait_until(lambda: finisher()[0] in ("running", "active", "idle", "done"),
                   what="status to show the on_complete agent running or done")
        wait_until(lambda: not {"l-builder", "l-adversary"} & sessions(tmux_socket),
                   what="the loop agents to stop")
        wait_until(lambda: not (tmp_path / ".run-on-complete").exists(), what="the trigger")
        assert len(events("sequence-complete")) == 1
        assert events("verify-done")[-1]["reason"].startswith("passed: 1 gate(s) at ")
    finally:
        agents("down")


@pytest.mark.parametrize("worktree", [False, True], ids=["clones", "worktrees"])
def test_loop_demo_runs_to_completion(tmp_path: Path, tmux_socket: str, worktree: bool
                                      ) -> None:
    """`agents init --loop-demo`: what a new user watches, on a private server and faster.
    `worktree = true`: both loop agents work in worktrees of ONE clone, each on its own
    branch tracking origin/main (their `git pull --rebase` needs it), and the loop runs
    the same."""
    demo = tmp_path / "demo"
    made = subprocess.run([sys.executable, "-m", "agent_orchestrator", "init", "--loop-demo",
                           str(demo)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    config = demo / "agents.toml"
    text = config.read_text().replace('log_dir = ".agents"',
                                      f'log_dir = ".agents"\ntmux_socket = "{tmux_socket}"')
    text = text.replace("signal_interval = 3", "signal_interval = 0.3") \
        .replace("heavy_interval = 5", "heavy_interval = 0.3")
    if worktree:
        text = text.replace('dir = "adversary"', 'dir = "builder"') \
            .replace('dir = "builder"', 'dir = "builder"\nworktree = true')
    config.write_text(text)
    for role in ("builder", "adversary"):
        prompt = demo / "prompts" / f"{role}.md"
        prompt.write_text(prompt.read_text().replace("sleep 5", "sleep 1")
                          .replace("sleep 2", "sleep 0.3"))

    def agents(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent_orchestrator", *args, "--config",
                               str(config)], capture_output=True, text=True, timeout=30)

    events = demo / ".agents" / "events.jsonl"

    def kinds() -> list[str]:
        return [json.loads(x)["event"] for x in events.read_text().splitlines()] \
            if events.exists() else []

    try:
        assert agents("check").returncode == 0
        assert agents("up").returncode == 0
        wait_until(lambda: "sequence-complete" in kinds(), timeout=60,
                   what="the demo loop to finish both phases")
        seen = kinds()
        assert seen.count("handoff-ping") >= 4  # a claim and a review per phase
        # The story, whichever came first, the builder's claim or the watchdog's first
        # fetch: each phase claimed, reviewed, then DONE; each claim and review relayed.
        log = git(demo / "origin.git", "log", "--reverse", "--format=%H %s", "main")
        story = [line.split(" ", 1) for line in log.splitlines()]
        assert [subject for _, subject in story] == [
            "initial", "claim: the parser gate works", "review: parser claim accepted",
            "status: parser done", "claim: the api gate works", "review: api claim accepted",
            "status: api done"]
        pinged = " ".join(json.loads(x).get("reason", "") for x in events.read_text()
                          .splitlines() if json.loads(x)["event"] == "handoff-ping")
        assert all(sha[:12] in pinged for sha, subject in story
                   if subject.startswith(("claim", "review")))
        assert seen.count("phase-advance") == 1
        if worktree:
            trees = demo / ".agents" / "worktrees" / "agents"
            for role in ("builder", "adversary"):
                assert git(trees / role, "rev-parse", "--abbrev-ref", "HEAD",
                           "@{upstream}").split() == [f"agent/{role}", "origin/main"]
            assert "worktree-failed" not in seen
        wait_until(lambda: "loopdemo-reporter" in sessions(tmux_socket), what="the reporter")
        wait_until(lambda: agents("status").stdout.count("done (sequence complete)") == 2,
                   what="the loop agents to show as done")
    finally:
        agents("down")
