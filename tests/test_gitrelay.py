"""gitrelay against real git: a bare origin and clones under tmp_path, commits pushed."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import clone_repo
from conftest import git as sh  # `git` names gitrelay.Git objects here

from agent_orchestrator.config import Handoff
from agent_orchestrator.core.handoff import Commit, Ping, first_baseline, inbox_pings, relay
from agent_orchestrator.doors import gitrelay
from agent_orchestrator.doors.gitrelay import ORIGIN_MAIN, Git, GitCancelled, GitError, poll


@dataclass
class Repos:
    root: Path
    origin: Path
    builder: Path  # the agent's clone: commits, pushes, has a dirty tree
    watch: Path  # the watchdog's clone

    def commit(self, subject: str, files: dict[str, str | None] | None = None,
               push: bool = True) -> str:
        for name, content in (files or {}).items():
            path = self.builder / name
            if content is None:
                sh(self.builder, "rm", "-q", name)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            sh(self.builder, "add", name)
        sh(self.builder, "commit", "-q", "--allow-empty", "-m", subject)
        if push:
            sh(self.builder, "push", "-q", "origin", "HEAD:refs/heads/main")
        return sh(self.builder, "rev-parse", "HEAD")


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    sh(origin, "symbolic-ref", "HEAD", "refs/heads/main")
    builder = clone_repo(origin, tmp_path / "builder")
    r = Repos(tmp_path, origin, builder, tmp_path / "watch")
    r.commit("initial", {"README.md": "hello\n"})
    clone_repo(origin, r.watch)
    return r


def handoff(repo: Path, **kw: object) -> Handoff:
    base: dict[str, object] = dict(repo=repo,
                                   claim_pattern=re.compile("^claim", re.I | re.M),
                                   review_pattern=re.compile("^review", re.I | re.M))
    base.update(kw)
    return Handoff(**base)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- reading

def test_fetch_then_new_commits_oldest_first(repos: Repos) -> None:
    git = Git(repos.watch)
    seen = git.head()
    assert seen == sh(repos.builder, "rev-parse", "HEAD")
    shas = [repos.commit(f"change {i}") for i in range(3)]
    assert git.new_commits(seen) == []  # not fetched yet: origin/main is still the old one
    git.fetch()
    assert git.head() == shas[-1]
    assert git.new_commits(seen) == [Commit(s, f"change {i}") for i, s in enumerate(shas)]
    assert git.new_commits(shas[0]) == [Commit(shas[1], "change 1"), Commit(shas[2], "change 2")]
    assert git.new_commits(shas[-1]) == []


def test_first_run_is_a_baseline_not_a_flood(repos: Repos) -> None:
    repos.commit("claim: gate 1")
    repos.commit("review: gate 1 ok")
    git = Git(repos.watch)
    git.fetch()
    assert git.new_commits(None) == []
    first = poll(git, handoff(repos.watch), None)
    assert first.pings == [] and first.last_seen == git.head()
    # Unknown last-seen (a re-clone, rewritten history): re-baseline rather than guess.
    assert git.new_commits("0123456789abcdef0123456789abcdef01234567") == []
    assert git.new_commits("not-a-sha") == []
    again = poll(git, handoff(repos.watch), first.last_seen)
    assert again.pings == [] and again.last_seen == first.last_seen
    claim = repos.commit("claim: gate 2")
    later = poll(git, handoff(repos.watch), first.last_seen)
    assert later.last_seen == claim
    assert [(p.target, p.sha) for p in later.pings] == [("adversary", claim)]


def commit_at(repos: Repos, subject: str, when: int, files: dict[str, str] | None = None) -> str:
    """A pushed commit whose committer (and author) time is `when`, epoch seconds."""
    for name, content in (files or {}).items():
        (repos.builder / name).parent.mkdir(parents=True, exist_ok=True)
        (repos.builder / name).write_text(content)
        sh(repos.builder, "add", name)
    env = {**os.environ, "GIT_COMMITTER_DATE": f"@{when} +0000",
           "GIT_AUTHOR_DATE": f"@{when} +0000"}
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", subject], cwd=repos.builder,
                   env=env, check=True, capture_output=True, timeout=30)
    sh(repos.builder, "push", "-q", "origin", "HEAD:refs/heads/main")
    return sh(repos.builder, "rev-parse", "HEAD")


def test_first_poll_relays_what_the_loops_pushed_since_they_started(repos: Repos) -> None:
    """The race of a fast builder: its claim lands before the watchdog's first fetch. It is
    relayed; a claim (and an inbox change) from before the loops started is the baseline."""
    start = int(time.time()) + 1000  # the fleet's start, on explicit commit times
    old = commit_at(repos, "claim: from an earlier run", start - 100,
                    {"to_builder": "old news\n"})
    claim = commit_at(repos, "claim: gate 1", start + 5)
    note = commit_at(repos, "review: inbox for the builder", start + 9,
                     {"to_builder": "fix it\n"})
    git = Git(repos.watch)
    first = poll(git, handoff(repos.watch, inboxes=("to_builder",), state_subdir=""), None,
                 started=start + 0.5)
    assert first.last_seen == note
    assert [(p.target, p.sha) for p in first.pings] == [
        ("adversary", claim), ("builder", note), ("builder", note)]
    assert "to_builder" in first.pings[-1].text and old not in {p.sha for p in first.pings}
    # the next poll goes on from there: nothing twice
    assert poll(git, handoff(repos.watch), first.last_seen, started=start).pings == []
    # without a start (no loop agent runs) the first poll only takes the baseline
    assert poll(git, handoff(repos.watch), None).pings == []


def test_first_poll_with_nothing_new_since_the_start(repos: Repos) -> None:
    start = int(time.time()) + 1000
    old = commit_at(repos, "claim: from an earlier run", start - 1)
    first = poll(Git(repos.watch), handoff(repos.watch), None, started=start)
    assert first.pings == [] and first.last_seen == old


def test_git_log_has_committer_times_newest_first(repos: Repos) -> None:
    a = commit_at(repos, "a", 1_800_000_000)
    b = commit_at(repos, "b", 1_800_000_100)
    git = Git(repos.watch)
    git.fetch()
    assert [(c.sha, c.subject, c.time) for c in git.log(limit=2)] == [
        (b, "b", 1_800_000_100), (a, "a", 1_800_000_000)]
    assert git.new_commits(a) == [Commit(b, "b")]
    with pytest.raises(ValueError):
        git.log("--output=/tmp/x")


def test_first_baseline_is_the_newest_commit_before_the_start() -> None:
    def at(sha: str, when: int | None) -> Commit:
        return Commit(sha, "s", when)

    assert first_baseline([], 100.0) is None
    newest_first = [at("c", 105), at("b", 100), at("a", 99)]
    assert first_baseline(newest_first, 100.9) == "a"  # a commit in the start's second is new
    assert first_baseline(newest_first, 101.0) == "b"
    assert first_baseline([at("c", None), at("b", 90)], 100) == "b"  # no time: not "old"
    # all of it after the start (the listing was cut, or the repo began later): its oldest
    assert first_baseline([at("c", 105), at("b", 101)], 100) == "b"


def test_claims_ping_the_reviewer_reviews_the_builder(repos: Repos) -> None:
    git = Git(repos.watch)
    seen = git.head()
    claim = repos.commit("claim: gate 3 passes")
    repos.commit("refactor parser")
    review = repos.commit("Review: gate 3 rejected")
    result = poll(git, handoff(repos.watch, claim_pings="rev", review_pings="bob"), seen)
    assert result.pings == [
        Ping("rev", f"New claim on origin/main: {claim[:12]} 'claim: gate 3 passes'. Pull and "
             "verify exactly this commit, then push a review: commit.", claim),
        Ping("bob", f"New review on origin/main: {review[:12]} 'Review: gate 3 rejected'. "
             "Pull, read it and act on it.", review),
    ]


def test_relay_is_pure_and_honours_missing_patterns(tmp_path: Path) -> None:
    commits = [Commit("a" * 40, "claim x"), Commit("b" * 40, "fix: claim later"),
               Commit("c" * 40, "review y")]
    assert [p.target for p in relay(commits, handoff(tmp_path))] == ["adversary", "builder"]
    assert relay(commits, handoff(tmp_path, claim_pattern=None, review_pattern=None)) == []
    custom = handoff(tmp_path, claim_pattern=re.compile(r"\bclaim\b"))
    assert [p.sha[0] for p in relay(commits, custom)] == ["a", "b", "c"]


def test_inbox_changes_ping_their_target(repos: Repos) -> None:
    git = Git(repos.watch)
    hand = handoff(repos.watch)
    seen = git.head()
    sha = repos.commit("notes", {"machine-docs/to_builder": "please fix X\n",
                                 "to_adversary": "wrong folder: not an inbox\n",
                                 "machine-docs/other.md": "x\n"})
    result = poll(git, hand, seen)
    assert result.pings == [Ping(
        "builder", f"Your inbox machine-docs/to_builder changed on origin/main ({sha[:12]}). "
        "Pull, read it, act, then delete the file to mark it consumed.", sha)]
    seen = result.last_seen
    # Untouched inbox: nothing. Deleting it (consumed) is not a change to ping about.
    repos.commit("unrelated", {"src.py": "pass\n"})
    assert poll(git, hand, seen).pings == []
    seen = git.head()
    repos.commit("consumed", {"machine-docs/to_builder": None})
    assert poll(git, hand, seen).pings == []
    seen = git.head()
    sha = repos.commit("to you", {"machine-docs/to_adversary": "look at Y\n"})
    targets = {"adversary": "codex-rev"}
    assert [(p.target, p.sha) for p in poll(git, hand, seen, targets).pings] == [
        ("codex-rev", sha)]


def test_changed_files_and_inbox_pings_directly(repos: Repos) -> None:
    git = Git(repos.watch)
    old = git.head()
    assert old is not None
    new = repos.commit("x", {"machine-docs/to_builder": "1\n", "a/b.txt": "2\n"})
    git.fetch()
    assert sorted(git.changed_files(old, new, ["machine-docs", "a/b.txt"])) == [
        "a/b.txt", "machine-docs/to_builder"]
    assert git.changed_files(old, new, ["machine-docs/to_adversary"]) == []
    assert git.changed_files(old, new, []) == []
    pings = inbox_pings(["a/b.txt", "machine-docs/to_builder"],
                        handoff(repos.watch, state_subdir=""), new)
    assert pings == []  # with no state_subdir the inboxes live at the root
    pings = inbox_pings(["machine-docs/to_builder"], handoff(repos.watch), new)
    assert [p.target for p in pings] == ["builder"]


def test_show_reads_the_pushed_copy_only(repos: Repos) -> None:
    repos.commit("status", {"STATUS.md": "pushed\n"})
    (repos.builder / "STATUS.md").write_text("working tree\n")
    (repos.builder / "NEW.md").write_text("untracked\n")
    git = Git(repos.builder)  # even in the agent's own dirty clone
    git.fetch()
    assert git.show(ORIGIN_MAIN, "STATUS.md") == "pushed\n"
    repos.commit("local only", {"STATUS.md": "committed, not pushed\n"}, push=False)
    git.fetch()
    assert git.show(ORIGIN_MAIN, "STATUS.md") == "pushed\n"
    assert git.show("refs/heads/main", "STATUS.md") == "committed, not pushed\n"
    assert git.show(ORIGIN_MAIN, "NEW.md") is None
    assert git.show(ORIGIN_MAIN, "./STATUS.md") == "pushed\n"
    sh(repos.builder, "push", "-q", "origin", "HEAD:refs/heads/main")
    git.fetch()
    assert git.show(ORIGIN_MAIN, "STATUS.md") == "committed, not pushed\n"
    assert git.show("refs/remotes/origin/nothing", "STATUS.md") is None


def test_show_of_a_folder_or_outside_path(repos: Repos) -> None:
    repos.commit("tree", {"docs/a.md": "a\n"})
    git = Git(repos.watch)
    git.fetch()
    assert git.show(ORIGIN_MAIN, "docs") is None
    assert git.show(ORIGIN_MAIN, "docs/a.md") == "a\n"
    with pytest.raises(ValueError):
        git.show(ORIGIN_MAIN, "../etc/passwd")


def test_git_errors_name_the_subcommand(tmp_path: Path) -> None:
    lonely = tmp_path / "lonely"
    subprocess.run(["git", "init", "-q", str(lonely)], check=True)
    with pytest.raises(GitError, match=r"^git fetch failed \(exit \d+\): .*origin"):
        Git(lonely).fetch()
    assert Git(lonely).head() is None
    assert Git(lonely).new_commits("a" * 40) == []


def test_git_timeout_kills_the_whole_group(repos: Repos) -> None:
    # A remote whose upload-pack hangs (in a child of git): the call must return promptly.
    sh(repos.watch, "config", "remote.slow.url", str(repos.origin))
    sh(repos.watch, "config", "remote.slow.uploadpack", "sleep 30; git-upload-pack")
    start = time.monotonic()
    with pytest.raises(GitError, match=r"git fetch: timed out after 1s"):
        Git(repos.watch, timeout=1).fetch(remote="slow")
    assert time.monotonic() - start < 4


def test_every_git_call_is_an_argument_list_with_hooks_off(
        repos: Repos, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], dict[str, object]]] = []
    real = subprocess.Popen

    def spy(argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
        calls.append((argv, kw))
        return real(argv, **kw)  # type: ignore[call-overload, no-any-return]

    git = Git(repos.watch)
    seen = git.head()
    repos.commit("claim: z", {"machine-docs/to_builder": "hi\n"})
    monkeypatch.setattr(subprocess, "Popen", spy)
    monkeypatch.setenv("GIT_DIR", str(repos.builder / ".git"))  # must not redirect our git
    assert len(poll(git, handoff(repos.watch), seen).pings) == 2
    git.run_at(git.head() or "", ["true"])
    assert calls
    for argv, kw in calls:
        assert isinstance(argv, list) and "shell" not in kw
        if argv[0] == "git":
            assert argv[:7] == ["git", "-c", "core.hooksPath=/dev/null", "-c",
                                "core.fsmonitor=false", "-C", str(repos.watch)]
            env = kw["env"]
            assert isinstance(env, dict)
            assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_OPTIONAL_LOCKS"] == "0"
            assert "GIT_DIR" not in env
        else:
            assert argv[:2] == ["/bin/sh", "-c"]  # the user's verify command, on purpose
    assert "fetch" in [a[7] for a, _ in calls if a[0] == "git"]


# ----------------------------------------------------------------------------- verify

def test_verify_runs_at_the_pushed_commit_not_the_dirty_tree(repos: Repos) -> None:
    sha = repos.commit("claim", {"pushed.txt": "yes\n", "STATUS.md": "pushed\n"})
    (repos.builder / "local-only.txt").write_text("dirty\n")
    (repos.builder / "STATUS.md").write_text("## DONE\nfaked\n")
    git = Git(repos.builder)
    git.fetch()
    assert (repos.builder / "local-only.txt").exists()
    good = git.run_at(git.head() or "", ["test -f pushed.txt", "grep -q pushed STATUS.md"])
    assert good.ok and good.sha == sha and good.command is None
    bad = git.run_at(sha, ["test -f pushed.txt", "test -f local-only.txt"])
    assert not bad.ok
    assert (bad.command, bad.exit_code, bad.timed_out) == ("test -f local-only.txt", 1, False)
    faked = git.run_at(sha, ["grep -q DONE STATUS.md"])
    assert not faked.ok


def test_verify_stops_at_the_first_failure_and_keeps_its_output(repos: Repos,
                                                                tmp_path: Path) -> None:
    git = Git(repos.watch)
    third = tmp_path / "third-ran"
    result = git.run_at(ORIGIN_MAIN, ["true", "echo to-stdout; echo to-stderr >&2; exit 3",
                                      f"touch {third}"])
    assert (result.ok, result.exit_code) == (False, 3)
    assert "to-stdout" in result.output and "to-stderr" in result.output
    assert not third.exists()
    long = git.run_at(ORIGIN_MAIN, ["i=0; while [ $i -lt 600 ]; do echo line-$i; "
                                    "i=$((i+1)); done; exit 1"])
    assert len(long.output) <= 2000 and long.output.rstrip().endswith("line-599")
    assert git.run_at(ORIGIN_MAIN, []).ok


def test_verify_timeout(repos: Repos) -> None:
    git = Git(repos.watch)
    start = time.monotonic()
    result = git.run_at(ORIGIN_MAIN, ["echo started; sleep 30 & sleep 30"], timeout_each=0.5)
    assert time.monotonic() - start < 4
    assert result.timed_out and not result.ok and result.exit_code is None
    assert "started" in result.output and "timed out after 0.5s" in result.output


def test_worktree_always_removed(repos: Repos, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    git = Git(repos.watch)
    runs = [["true"], ["exit 1"], ["sleep 5"],
            ["echo junk > new.txt; echo x >> README.md; mkdir -p deep/er; git init -q deep/er"
             "; exit 2"]]
    for commands in runs:
        git.run_at(ORIGIN_MAIN, commands, timeout_each=0.5)
        assert git.worktrees() == [str(repos.watch)]
        assert list(scratch.iterdir()) == []
    with pytest.raises(GitError):
        git.run_at("a" * 40, ["true"])
    assert list(scratch.iterdir()) == [] and git.worktrees() == [str(repos.watch)]
    assert (repos.watch / "README.md").read_text() == "hello\n"


# ----------------------------------------------------------------------------- env
# (hostile repos and the static no-shell check: tests/reliability/test_logs_time_git_cases.py)

def test_env_drops_repo_redirects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_WORK_TREE", "/elsewhere")
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -i key")
    env = gitrelay._env({"X": "1"})
    assert "GIT_WORK_TREE" not in env and env["GIT_SSH_COMMAND"] == "ssh -i key"
    assert env["X"] == "1" and env.get("PATH") == os.environ.get("PATH")


# ----------------------------------------------------------------------------- cancel

def test_cancel_kills_a_hung_fetch(repos: Repos) -> None:
    """A fetch hanging on its remote ends when the watchdog cancels it (stop, config
    change), long before its timeout, and says it was cancelled, not that it failed."""
    sh(repos.watch, "config", "remote.slow.url", str(repos.origin))
    sh(repos.watch, "config", "remote.slow.uploadpack", "sleep 30; git-upload-pack")
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(GitCancelled, match="cancelled"):
        Git(repos.watch, timeout=60, cancel=cancel).fetch(remote="slow")
    assert time.monotonic() - start < 4


def test_cancel_kills_a_running_gate_and_still_removes_its_worktree(repos: Repos) -> None:
    cancel = threading.Event()
    git = Git(repos.watch, cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(GitCancelled):
        git.run_at(ORIGIN_MAIN, ["sleep 30 & sleep 30"], timeout_each=60)
    assert time.monotonic() - start < 4
    assert Git(repos.watch).worktrees() == [str(repos.watch)]  # clean-up ran in full
