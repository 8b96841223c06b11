"""doors/worktrees.py on real git repos in tmp_path: a task's worktree and branch, the
`.worktreeinclude` copies, the verify gate's verdict and what the branch changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git

from agent_orchestrator.doors.gitrelay import GitError
from agent_orchestrator.doors.worktrees import TaskGit, copy_included


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    (root / ".gitignore").write_text(".env\nsecrets/\nlogs/\n")
    (root / ".worktreeinclude").write_text("# gitignored files a task needs\n.env\n"
                                           "secrets/*.key\n../outside\n/etc/passwd\n")
    (root / "README").write_text("hello\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    (root / ".env").write_text("TOKEN=1\n")
    (root / "secrets").mkdir()
    (root / "secrets" / "a.key").write_text("k\n")
    (tmp_path / "outside").write_text("no\n")
    return root


def test_prepare_makes_a_branch_from_base_and_copies_included_files(repo: Path) -> None:
    tree = repo / "logs" / "worktrees" / "fix"
    prepared = TaskGit(repo).prepare("fix", tree, "main")
    assert prepared.branch == "agents/fix"
    assert prepared.base_sha == git(repo, "rev-parse", "main")
    assert git(tree, "rev-parse", "--abbrev-ref", "HEAD") == "agents/fix"
    assert (tree / ".env").read_text() == "TOKEN=1\n"
    assert (tree / "secrets" / "a.key").exists()
    assert not (tree.parent / "outside").exists() and not (tree / "outside").exists()
    # Made again (a retry, a watchdog that died half-way): the same tree, work kept.
    (tree / "work.txt").write_text("w\n")
    again = TaskGit(repo).prepare("fix", tree, "main")
    assert again.worktree == tree and (tree / "work.txt").exists()


def test_a_branch_left_by_an_earlier_run_is_continued(repo: Path) -> None:
    tree = repo / "logs" / "worktrees" / "fix"
    TaskGit(repo).prepare("fix", tree, "HEAD")
    (tree / "f.txt").write_text("1\n")
    git(tree, "add", "f.txt")
    git(tree, "commit", "-qm", "work")
    TaskGit(repo).remove(tree)
    assert not tree.exists()
    TaskGit(repo).prepare("fix", tree, "HEAD")
    assert (tree / "f.txt").read_text() == "1\n"


def test_an_unknown_base_is_a_clear_error(repo: Path) -> None:
    with pytest.raises(GitError, match="base 'nope': no such branch or commit"):
        TaskGit(repo).prepare("fix", repo / "wt", "nope")


def test_judge_reads_the_commit_range_and_runs_the_gate_in_the_tree(repo: Path) -> None:
    tree = repo / "logs" / "worktrees" / "fix"
    prepared = TaskGit(repo).prepare("fix", tree, "main")
    (tree / "f.txt").write_text("one\ntwo\n")
    git(tree, "add", "f.txt")
    git(tree, "commit", "-qm", "work")
    good = TaskGit(repo).judge("fix", tree, prepared.base_sha, "test -f f.txt && test -f .env",
                               60)
    assert good.ok and good.reason == "verified"
    assert good.commits is not None and good.commits.endswith("(1 commit)")
    assert good.diffstat == "1 file changed, 2 insertions(+)"
    bad = TaskGit(repo).judge("fix", tree, prepared.base_sha,
                              "echo checking; echo 'boom: 2 failed' >&2; exit 4", 60)
    assert not bad.ok and bad.reason == ("verify failed (exit 4): echo checking; "
                                         "echo 'boom: 2 failed' >&2; exit 4")
    assert bad.output_tail == "checking\nboom: 2 failed\n"
    slow = TaskGit(repo).judge("fix", tree, prepared.base_sha, "sleep 5", 0.3)
    assert not slow.ok and "timed out" in slow.reason


def test_nothing_to_include_copies_nothing(tmp_path: Path) -> None:
    assert copy_included(tmp_path, tmp_path / "tree") == []


def test_a_loop_agents_branch_tracks_what_base_tracks(repo: Path, tmp_path: Path) -> None:
    """A clone's `HEAD` tracks origin/main: the agent's branch then pulls from there too."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    work = TaskGit(clone)
    work.prepare("b", tmp_path / "tree-b", "HEAD", "agent/b")
    assert work.track("agent/b", "HEAD") == "origin/main"
    assert git(tmp_path / "tree-b", "rev-parse", "--abbrev-ref", "@{upstream}") == "origin/main"
    work.prepare("c", tmp_path / "tree-c", "origin/main", "agent/c")
    assert work.track("agent/c", "origin/main") == "origin/main"  # a remote branch itself
    TaskGit(repo).prepare("d", tmp_path / "tree-d", "main", "agent/d")
    assert TaskGit(repo).track("agent/d", "main") is None  # no remote: nothing to track
    assert git(repo, "for-each-ref", "--format=%(upstream)", "refs/heads/agent/d") == ""
