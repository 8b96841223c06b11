"""A task's git worktree: made on its own branch from `base`, with the gitignored files
`.worktreeinclude` names copied in; its verify gate run in it; what it changed read back.

Runs in the watchdog's workers (git may take seconds): nothing here is called by the loop.
Every git command goes through gitrelay.Git (no shell, hooks off, bounded, cancellable);
the verify gate is the user's own command line, run through `/bin/sh -c` as the loop's.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.doors.files import own_folders, private_dir
from agent_orchestrator.doors.gitrelay import SCRATCH_PREFIX, Git, GitError

INCLUDE_FILE = ".worktreeinclude"
BRANCH_PREFIX = "agents/"
_SHA = re.compile(r"[0-9a-f]{40,64}")


@dataclass(frozen=True)
class Prepared:
    """A task's folder is ready: `worktree` (None: it works in the project itself), its
    branch and the commit it started from."""

    task: str
    worktree: Path | None
    branch: str | None
    base_sha: str | None


@dataclass(frozen=True)
class Outcome:
    """A finished run judged: `ok` when its gate passed (or it has none); its commit range
    (`base..head` and the count), diff stat, and on failure the gate's output tail."""

    task: str
    ok: bool
    reason: str
    commits: str | None = None
    diffstat: str | None = None
    output_tail: str | None = None


def branch_name(task: str) -> str:
    return BRANCH_PREFIX + task


def agent_branch(agent: str) -> str:
    """A declared agent's branch: `agent/<name>`, apart from the tasks' `agents/` refs."""
    return "agent/" + agent


def task_tree(config: Config, task: str) -> Path:
    return config.log_dir / "worktrees" / "tasks" / task


def agent_tree(config: Config, agent: str) -> Path:
    return config.log_dir / "worktrees" / "agents" / agent


def work_dir(config: Config, agent: Agent) -> Path:
    """The folder an agent works in: its own worktree (`worktree = true`), else `dir`."""
    return agent_tree(config, agent.name) if agent.worktree else agent.dir


def ready(tree: Path) -> bool:
    """Whether the worktree at `tree` was made (git writes its `.git` file last)."""
    return (tree / ".git").exists()


def ensure_agent_tree(config: Config, agent: Agent) -> None:
    """Make a declared agent's worktree when it has none yet (raises GitError). A loop
    agent's branch tracks what `base` tracks (origin/main in a clone): the handoff has it
    `git pull --rebase` the other agent's pushes before each step and push to origin/main
    (`git push origin HEAD:main`), which a branch without an upstream cannot pull."""
    tree = agent_tree(config, agent.name)
    if not ready(tree):
        git = TaskGit(agent.dir)
        git.prepare(agent.name, tree, config.tasks.base, agent_branch(agent.name),
                    root=config.log_dir)
        if agent.kind == "loop":
            git.track(agent_branch(agent.name), config.tasks.base)


class TaskGit(Git):
    """The project's repository, as the task runner uses it."""

    def resolve(self, ref: str) -> str | None:
        """The commit a branch, tag, `HEAD` or sha names (None when it names none)."""
        result = self._run(["rev-parse", "--verify", "--quiet", "--end-of-options",
                            ref + "^{commit}"], check=False)
        sha = result.stdout.strip()
        return sha if result.returncode == 0 and _SHA.fullmatch(sha) else None

    def track(self, branch: str, base: str) -> str | None:
        """Make `branch` track `base`'s upstream (or `base` itself when it is a remote
        branch); returns that upstream, None when `base` has none (a local-only repo)."""
        for ref in (base + "@{upstream}", base):
            name = self._run(["rev-parse", "--verify", "--quiet", "--symbolic-full-name",
                              "--end-of-options", ref], check=False).stdout.strip()
            if name.startswith("refs/remotes/"):
                upstream = name.removeprefix("refs/remotes/")
                self._run(["branch", "--quiet", "--set-upstream-to=" + upstream, branch])
                return upstream
        return None

    def prepare(self, task: str, tree: Path, base: str, branch: str | None = None,
                root: Path | None = None) -> Prepared:
        """Add the worktree `tree` on `branch` (default `agents/<task>`) from `base` (an
        existing branch of that name is checked out as it is: a task run again continues
        its work); a worktree already there is kept (a watchdog that died while making it,
        a retry). `root` (`log_dir`): every folder from there down to `tree` must be ours
        (files.own_folders: never a planted symlink; NotOurFolder, an OSError, if not)."""
        if root is not None:
            own_folders(root, tree)
        branch = branch or branch_name(task)
        base_sha = self.resolve(base)
        if base_sha is None:
            raise GitError(f"[tasks] base {base!r}: no such branch or commit in {self.repo}")
        if not ready(tree):
            shutil.rmtree(tree, ignore_errors=True)  # half made by a watchdog killed then
            self._run(["worktree", "prune"], check=False)
            private_dir(tree.parent)
            has_branch = self.resolve("refs/heads/" + branch) is not None
            args = [str(tree), branch] if has_branch else ["-b", branch, str(tree), base_sha]
            self._run(["worktree", "add", "--quiet", *args], timeout=max(self.timeout, 120))
            copy_included(self.repo, tree)
        return Prepared(task, tree, branch, base_sha)

    def judge(self, task: str, tree: Path, base_sha: str | None, verify: str | None,
              timeout: float) -> Outcome:
        """Run `verify` in `tree` (when given) and read what the branch holds since
        `base_sha`."""
        work = TaskGit(tree, cancel=self.cancel)
        head = work.resolve("HEAD")
        commits = diffstat = None
        if head is not None and base_sha is not None:
            count = work._run(["rev-list", "--count", f"{base_sha}..{head}"]).stdout.strip()
            commits = f"{base_sha[:12]}..{head[:12]} ({count} commit{'s' * (count != '1')})"
            diffstat = work._run(["diff", "--shortstat", base_sha, head]).stdout.strip() \
                or "no changes"
        if verify:
            # Named like the loop's gate scratch: a watchdog killed mid-gate leaves it to
            # the next one's debris sweep (doors/orphans.py).
            scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-task-"))
            try:
                result = work._run_commands(head or "", tree, scratch / "output", [verify],
                                            timeout)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            if not result.ok:
                why = "timed out" if result.timed_out else f"exit {result.exit_code}"
                return Outcome(task, False, f"verify failed ({why}): {verify}", commits,
                               diffstat, result.output)
        return Outcome(task, True, "verified" if verify else "finished", commits, diffstat)

    def remove(self, tree: Path, root: Path | None = None) -> None:
        """Remove a finished task's worktree (its branch stays, to be read and merged);
        `root` as for `prepare`: nothing is removed through a folder not ours."""
        if root is not None and tree.is_relative_to(root):  # else recorded under another
            own_folders(root, tree)
        self.remove_worktree(tree)


def copy_included(repo: Path, tree: Path) -> list[str]:
    """Copy into `tree` the files (or folders) `.worktreeinclude` names, one path or glob a
    line (`#` comments), that exist in `repo` and not in `tree`: the gitignored files a
    checkout lacks (`.env`). Paths leaving the repo are skipped. Returns what was copied."""
    try:
        lines = (repo / INCLUDE_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    root = repo.resolve()
    copied = []
    for line in lines:
        pattern = line.strip()
        if not pattern or pattern.startswith("#") or pattern.startswith("/") or \
                ".." in Path(pattern).parts:
            continue
        for source in sorted(root.glob(pattern)):
            rel = source.relative_to(root)
            if not source.resolve().is_relative_to(root) or rel.parts[:1] == (".git",):
                continue
            target = tree / rel
            if target.exists() or target.is_symlink():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target, follow_symlinks=False)
            copied.append(str(rel))
    return copied
