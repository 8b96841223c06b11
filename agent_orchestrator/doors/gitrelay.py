"""The handoff repo (SPEC §4 handoff, phase advance): fetch, new commits on origin/main, pushed
file contents, and verify commands run at a pushed commit.

Every git call goes through `Git._run`: an argument list (never a shell string) with
`core.hooksPath=/dev/null` and `core.fsmonitor=false` forced on the command line, so a hook or
fsmonitor script planted in the repo's own `.git/config` never runs inside the watchdog; no
terminal prompt, no optional locks (an agent's own git in the same clone is not blocked), and
a timeout that kills git and its children. A ref is either a full ref (`refs/...`) or a hex
sha and always follows `--end-of-options`, so a branch named `--upload-pack=...` can never
become an option. Only `refs/heads/<branch>` of origin is ever fetched.

What counts is what was PUSHED (origin/main), never an agent's working tree: `show` reads a
file at a commit, and `run_at` runs the verify commands in a throw-away worktree checked out at
the pushed commit, which is always removed afterwards.

`relay` and `inbox_pings` are pure: they turn new commits / changed inbox files into pings.
`poll` strings it all together for the watchdog and returns the last seen sha to store.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

from agent_orchestrator.config import Handoff
from agent_orchestrator.config.filetrust import MAX_BYTES
from agent_orchestrator.core import phases
from agent_orchestrator.core.handoff import (
    Commit,
    Relay,
    VerifyResult,
    first_baseline,
    inbox_paths,
    inbox_pings,
    relay,
)

ORIGIN_MAIN = "refs/remotes/origin/main"
DEFAULT_TIMEOUT = 30.0
OUTPUT_TAIL = 2000
# Variables that would point our git at another repository, index or object store.
_GIT_LOCATION_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                     "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
                     "GIT_PREFIX", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT")
_SHA = re.compile(r"[0-9a-fA-F]{4,64}")
_KILL_GRACE = 5.0
_CANCEL_POLL = 0.1  # seconds between looks at a cancel event
# A verify scratch folder is `$TMPDIR/<prefix><watchdog pid>-XXXX`: the pid tells the next
# watchdog whether its writer is gone (doors/orphans.py removes what a SIGKILL left).
SCRATCH_PREFIX = "ao-verify-"


class GitError(Exception):
    """A git command failed or timed out; the message names the subcommand and stderr tail."""


class GitCancelled(GitError):
    """The work was cancelled (the watchdog is stopping, or its config changed)."""


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_ENV}
    env.update(extra)
    return env


def _bounded(argv: Sequence[str], *, cwd: Path | None, env: Mapping[str, str], timeout: float,
             stdout: int | IO[bytes], stderr: int | IO[bytes],
             cancel: threading.Event | None = None) -> tuple[int | None, bytes, bytes]:
    """Run argv in its own process group; on timeout, or when `cancel` is set (the watchdog
    stopping or its config changing), kill the whole group (git's ssh or upload-pack, a
    verify command's children) and return None as the exit status (GitCancelled is raised
    for a cancel, so a cancelled gate is never reported as a failed one)."""
    proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=stderr, start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        step = max(min(_CANCEL_POLL, deadline - time.monotonic()), 0)
        try:  # communicate again after a timeout loses no output
            out, err = proc.communicate(timeout=step if cancel is not None else
                                        max(deadline - time.monotonic(), 0))
            return proc.returncode, out or b"", err or b""
        except subprocess.TimeoutExpired:
            cancelled = cancel is not None and cancel.is_set()
            if not cancelled and time.monotonic() < deadline:
                continue
        out, err = _kill_group(proc)
        if cancelled:
            raise GitCancelled(f"{Path(argv[0]).name}: cancelled")
        return None, out, err


def _kill_group(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        out, err = proc.communicate(timeout=_KILL_GRACE)
    except subprocess.TimeoutExpired:  # a child escaped the group and holds the pipe
        proc.kill()
        proc.wait()
        out, err = b"", b""
    return out or b"", err or b""


def _tail(text: str, limit: int = OUTPUT_TAIL) -> str:
    return text if len(text) <= limit else text[-limit:]


def check_ref(ref: str) -> str:
    """A full ref (`refs/...`) or a hex sha, optionally with `^{commit}`; anything else —
    notably a name starting with `-` — raises ValueError."""
    base = ref.removesuffix("^{commit}")
    if _SHA.fullmatch(base) or (base.startswith("refs/") and not base.endswith("/")):
        if not any(c.isspace() or c in "\0:" for c in base):
            return ref
    raise ValueError(f"not a full ref or commit sha: {ref!r}")


class Git:
    """One repository (normally the watchdog's clone of the handoff repo)."""

    def __init__(self, repo: str | Path, timeout: float = DEFAULT_TIMEOUT,
                 cancel: threading.Event | None = None) -> None:
        self.repo = Path(repo)
        self.timeout = timeout
        self.cancel = cancel  # set: every running and later command is killed

    def _argv(self, args: Sequence[str]) -> list[str]:
        return ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
                "-C", str(self.repo), *args]

    def _run(self, args: Sequence[str], timeout: float | None = None, check: bool = True,
             cancellable: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `git ARGS` (list, no shell). Raises GitError on timeout, and on a non-zero
        exit when `check`; GitCancelled once `cancel` is set (clean-up passes
        `cancellable=False`: it must finish even then)."""
        limit = self.timeout if timeout is None else timeout
        env = _env({"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0",
                    "GIT_LITERAL_PATHSPECS": "1", "LC_ALL": "C"})
        try:
            code, out, err = _bounded(self._argv(args), cwd=None, env=env, timeout=limit,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      cancel=self.cancel if cancellable else None)
        except OSError as exc:
            raise GitError(f"git {args[0]}: cannot run git: {exc}") from None
        stdout = out.decode("utf-8", errors="replace")
        stderr = err.decode("utf-8", errors="replace").strip()
        if code is None:
            raise GitError(f"git {args[0]}: timed out after {limit:g}s"
                           + (f": {_tail(stderr, 500)}" if stderr else ""))
        if check and code != 0:
            raise GitError(f"git {args[0]} failed (exit {code}): "
                           f"{_tail(stderr, 500) or 'no message'}")
        return subprocess.CompletedProcess(list(args), code, stdout, stderr)

    # ------------------------------------------------------------------------- reading

    def fetch(self, remote: str = "origin", branch: str = "main") -> None:
        """Update `refs/remotes/<remote>/<branch>` (only that ref; no tags, no submodules)."""
        for name, value in (("remote", remote), ("branch", branch)):
            if not value or value.startswith("-") or any(c.isspace() for c in value):
                raise ValueError(f"bad {name} name: {value!r}")
        refspec = f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"
        self._run(["fetch", "--quiet", "--no-tags", "--no-recurse-submodules",
                   "--end-of-options", remote, refspec])

    def head(self, ref: str = ORIGIN_MAIN) -> str | None:
        """The commit `ref` points at, or None when it does not exist."""
        result = self._run(["rev-parse", "--verify", "--quiet", "--end-of-options",
                            check_ref(ref.removesuffix("^{commit}") + "^{commit}")],
                           check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def has_commit(self, sha: str) -> bool:
        """True when `sha` (hex) names a commit in this clone."""
        return bool(_SHA.fullmatch(sha)) and self.head(sha) is not None

    def new_commits(self, since: str | None, ref: str = ORIGIN_MAIN,
                    limit: int = 200) -> list[Commit]:
        """Commits reachable from `ref` and not from `since`, oldest first (at most the newest
        `limit`, so a long outage cannot flood the agents).

        `since` None (first run) or unknown to this clone (re-cloned, history rewritten and
        pruned): [] — the caller stores `head(ref)` as the baseline, so the first run never
        pings about the whole history."""
        if since is None or not self.has_commit(since) or self.head(ref) is None:
            return []
        return self.log(f"{since}..{ref}", limit)[::-1]

    def log(self, spec: str = ORIGIN_MAIN, limit: int = 200) -> list[Commit]:
        """The newest `limit` commits of `spec` (a ref, or `a..b` of checked refs), newest
        first, with their committer times."""
        out = self._run(["log", "--topo-order", f"--max-count={limit}",
                         "--format=%H%x00%ct%x00%s", "--end-of-options",
                         "..".join(check_ref(part) for part in spec.split("..", 1))]).stdout
        commits = []
        for line in out.splitlines():
            sha, _, rest = line.partition("\0")
            when, _, subject = rest.partition("\0")
            if sha:
                commits.append(Commit(sha, subject, int(when) if when.isdigit() else None))
        return commits

    def show(self, ref: str, path: str) -> str | None:
        """The content of `path` (relative to the repo root) at `ref`; None when the ref or
        the file does not exist there (or it is not a file); GitError when it is over the
        cap on files we read (config/filetrust.py: never read whole)."""
        spec = f"{check_ref(ref)}:{_clean(path)}"
        kind = self._run(["cat-file", "-t", "--end-of-options", spec], check=False)
        if kind.returncode != 0 or kind.stdout.strip() != "blob":
            return None
        if (size := int(self._run(["cat-file", "-s", "--end-of-options", spec]).stdout)) \
                > MAX_BYTES:
            raise GitError(f"{path} at {ref} is {size:,} bytes, over the {MAX_BYTES:,}-byte "
                           f"cap on files we read: is it the right file?")
        return self._run(["cat-file", "blob", "--end-of-options", spec]).stdout

    def changed_files(self, old: str, new: str, paths: Iterable[str]) -> list[str]:
        """Files among `paths` (literal paths or folders) that exist at `new` and differ from
        `old`; a deletion is not reported (deleting an inbox marks it consumed)."""
        specs = [_clean(p) for p in paths]
        if not specs:
            return []
        out = self._run(["diff-tree", "-r", "-z", "--name-only", "--no-renames",
                         "--no-textconv", "--no-ext-diff", "--diff-filter=d",
                         "--end-of-options", check_ref(old), check_ref(new), "--", *specs])
        return [p for p in out.stdout.split("\0") if p]

    # ------------------------------------------------------------------------- verify

    def run_at(self, commit: str, commands: Sequence[str],
               timeout_each: float = 600) -> VerifyResult:
        """Run `commands` one by one in a scratch worktree checked out (detached) at
        `commit`, stopping at the first failure. The agent's own working tree is never used,
        so uncommitted files cannot make a gate pass.

        Each command is the user's own command line from agents.toml, so it deliberately
        runs through `/bin/sh -c` (pipes, `&&`, env vars work) — the only shell in this
        module. It gets `timeout_each` seconds; on timeout its whole process group is killed.
        The worktree is always removed (`worktree remove --force`, then prune)."""
        sha = self.head(commit)
        if sha is None:
            raise GitError(f"git rev-parse: no such commit {commit!r}")
        if not commands:
            return VerifyResult(ok=True, sha=sha)
        scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        tree = scratch / "tree"
        try:
            self._run(["worktree", "add", "--detach", "--quiet", "--end-of-options",
                       str(tree), sha], timeout=max(self.timeout, 120))
            return self._run_commands(sha, tree, scratch / "output", commands, timeout_each)
        finally:
            self.remove_worktree(tree)
            shutil.rmtree(scratch, ignore_errors=True)

    def _run_commands(self, sha: str, tree: Path, log: Path, commands: Sequence[str],
                      timeout_each: float) -> VerifyResult:
        env = _env({"GIT_TERMINAL_PROMPT": "0", "AGENTS_VERIFY_SHA": sha})
        for command in commands:
            with log.open("w+b") as out:
                code, _, _ = _bounded(["/bin/sh", "-c", command], cwd=tree, env=env,
                                      timeout=timeout_each, stdout=out,
                                      stderr=subprocess.STDOUT, cancel=self.cancel)
                out.seek(max(out.seek(0, os.SEEK_END) - 4 * OUTPUT_TAIL, 0))
                text = _tail(out.read().decode("utf-8", errors="replace"))
            if code is None:
                note = f"\n[timed out after {timeout_each:g}s]"
                return VerifyResult(ok=False, sha=sha, command=command, exit_code=None,
                                    output=_tail(text + note), timed_out=True)
            if code != 0:
                return VerifyResult(ok=False, sha=sha, command=command, exit_code=code,
                                    output=text)
        return VerifyResult(ok=True, sha=sha)

    def remove_worktree(self, tree: Path) -> None:
        """Remove the worktree at `tree` however it is (files, nested repo), and prune."""
        with contextlib.suppress(GitError):
            self._run(["worktree", "remove", "--force", "--force", "--end-of-options",
                       str(tree)], check=False, cancellable=False)
        shutil.rmtree(tree, ignore_errors=True)  # e.g. it held a nested repo: remove refused
        with contextlib.suppress(GitError):
            self._run(["worktree", "prune"], check=False, cancellable=False)

    def worktrees(self) -> list[str]:
        """Paths of all worktrees git knows about (the main one first)."""
        out = self._run(["worktree", "list", "--porcelain"]).stdout
        return [line[len("worktree "):] for line in out.splitlines()
                if line.startswith("worktree ")]


def _clean(path: str) -> str:
    """A repo-relative posix path: no leading `./` or `/`, no `..`."""
    parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"not a path inside the repo: {path!r}")
    return "/".join(parts)


def status_text(git: Git, handoff: Handoff, status_path: str,
                ref: str = ORIGIN_MAIN) -> str | None:
    """The PUSHED status file at `ref` (origin/main: what the other agent sees, not anyone's
    working tree): `state_subdir/status_path`, else `status_path` at the repo root; None when
    neither exists. Does not fetch."""
    for path in phases.status_paths(handoff, status_path):
        text = git.show(ref, path)
        if text is not None:
            return text
    return None


def phase_done(git: Git, handoff: Handoff, status_path: str, marker: str = "## DONE",
               ref: str = ORIGIN_MAIN) -> bool:
    text = status_text(git, handoff, status_path, ref)
    return text is not None and phases.is_done(text, marker)


def poll(git: Git, handoff: Handoff, since: str | None,
         targets: Mapping[str, str] | None = None, started: float | None = None) -> Relay:
    """Fetch origin, then the pings for everything new on origin/main since `since` (the
    last seen sha the caller stored). Store the returned `last_seen` for the next call.

    `since` None is the very first run: with `started` (when the running loop agents'
    sessions were created, epoch seconds) what was committed since then is relayed and older
    history is the baseline (`first_baseline`); without it nothing is pinged. Why a start
    time and not a baseline `agents up` fetches before starting the agents: `up` stays free
    of network waits, and the watchdog alone (in a worker) touches the repo. A builder's
    claim pushed before the watchdog's first fetch is still relayed, while a new watchdog on
    an old repo never replays its history."""
    git.fetch()
    head = git.head()
    if head is None:
        return Relay([], since)
    if since is None and started is not None:
        since = first_baseline(git.log(), started)
    if since is None or head == since or not git.has_commit(since):
        return Relay([], head)
    pings = relay(git.new_commits(since), handoff)
    changed = git.changed_files(since, head, inbox_paths(handoff))
    pings += inbox_pings(changed, handoff, head, targets)
    return Relay(pings, head)
