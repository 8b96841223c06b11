"""The handoff vocabulary (SPEC §4): commits, the pings they turn into, verify results.
Pure: doors/gitrelay.py reads the repo and calls `relay` and `inbox_pings`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from agent_orchestrator.config import Handoff


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    time: int | None = field(default=None, compare=False)  # committer time, epoch seconds


@dataclass(frozen=True)
class Ping:
    """Text to type into `target`'s session: an agent name or a loop role (the caller
    resolves a role to its agent)."""

    target: str
    text: str
    sha: str


@dataclass(frozen=True)
class VerifyResult:
    """`ok` when every command exited 0. Otherwise `command` is the first one that failed,
    `exit_code` its status (None when it timed out) and `output` the tail of what it printed
    (stdout and stderr interleaved, at most OUTPUT_TAIL characters)."""

    ok: bool
    sha: str
    command: str | None = None
    exit_code: int | None = None
    output: str = ""
    timed_out: bool = False


@dataclass(frozen=True)
class Relay:
    """One handoff poll: the pings to send and the sha to store as last seen (None while
    origin/main does not exist yet)."""

    pings: list[Ping]
    last_seen: str | None


def first_baseline(commits: Sequence[Commit], started: float) -> str | None:
    """Where the very first poll starts relaying when the loop agents were started at
    `started` (epoch seconds): the newest of `commits` (origin/main's newest first, with
    committer times) committed before that second. What the agents pushed since they started
    is relayed even when it landed before the watchdog's first fetch; older history is the
    baseline, never pinged. With no older commit listed the oldest one listed is the
    baseline (the listing was cut, or the repo began after the start). None: no commits."""
    start = int(started)  # both clocks have whole seconds: a commit in that second is new
    for commit in commits:
        if commit.time is not None and commit.time < start:
            return commit.sha
    return commits[-1].sha if commits else None


def claim_text(commit: Commit) -> str:
    return (f"New claim on origin/main: {commit.sha[:12]} {commit.subject!r}. Pull and verify "
            "exactly this commit, then push a review: commit.")


def review_text(commit: Commit) -> str:
    return (f"New review on origin/main: {commit.sha[:12]} {commit.subject!r}. "
            "Pull, read it and act on it.")


def relay(commits: Iterable[Commit], handoff: Handoff) -> list[Ping]:
    """Pings for new commits (oldest first): a subject matching `claim_pattern` pings
    `claim_pings`, one matching `review_pattern` pings `review_pings` (both when both
    match). A pattern that is None pings nobody."""
    pings = []
    for commit in commits:
        if handoff.claim_pattern and handoff.claim_pattern.search(commit.subject):
            pings.append(Ping(handoff.claim_pings, claim_text(commit), commit.sha))
        if handoff.review_pattern and handoff.review_pattern.search(commit.subject):
            pings.append(Ping(handoff.review_pings, review_text(commit), commit.sha))
    return pings


def inbox_paths(handoff: Handoff) -> dict[str, str]:
    """Repo-relative inbox path → inbox name, e.g. machine-docs/to_builder → to_builder."""
    base = handoff.state_subdir.strip("/")
    return {(f"{base}/{name}" if base else name): name for name in handoff.inboxes}


def inbox_target(name: str) -> str:
    """`to_adversary` → `adversary`; a name without `to_` is its own target."""
    return name[3:] if name.startswith("to_") and len(name) > 3 else name


def inbox_pings(changed: Iterable[str], handoff: Handoff, sha: str,
                targets: Mapping[str, str] | None = None) -> list[Ping]:
    """Pings for inbox files whose pushed content changed (`changed`: repo-relative paths,
    as from `Git.changed_files`; others are ignored). The target is the part after `to_`,
    unless `targets` maps the inbox name (or that role) to an agent."""
    known = inbox_paths(handoff)
    pings = []
    for path in changed:
        name = known.get(path)
        if name is None:
            continue
        target = inbox_target(name)
        if targets:
            target = targets.get(name, targets.get(target, target))
        text = (f"Your inbox {path} changed on origin/main ({sha[:12]}). Pull, read it, act, "
                "then delete the file to mark it consumed.")
        pings.append(Ping(target, text, sha))
    return pings
