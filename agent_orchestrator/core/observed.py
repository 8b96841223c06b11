"""What the watchdog observed: the time of a look, the panes tmux showed, and what the loop saw."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from agent_orchestrator.core.handoff import Ping, VerifyResult
from agent_orchestrator.core.signals import ApiError, SignalRecord


@dataclass(frozen=True)
class Pane:
    """What one `list-panes -a` row says about a session's first pane.

    `activity` is tmux's `window_activity`: epoch seconds (1 s resolution) of the last output.
    `exit_status` is set only when `dead` (the pane's program exited and remain-on-exit kept it);
    `exit_signal` instead when a signal killed it.
    """

    session: str
    pane_id: str
    pid: int
    command: str
    dead: bool
    exit_status: int | None
    activity: float
    window_id: str
    exit_signal: int | None = None
    created: float = 0.0  # epoch seconds the session was created
    host: str | None = None  # the [host.NAME] it runs on; None: this machine (`pid` is ours)


@dataclass(frozen=True)
class Queued:
    """A text the operator queued for the agent's next idle moment (`agents send
    --when-idle`); `id` names it in its queue (doors/inbox.py)."""

    id: str
    text: str


@dataclass(frozen=True)
class Snapshot:
    """The fleet as tmux sees it at one moment.

    `server_running` False means tmux answered "no server" (so no sessions exist), which is a
    real state; a query that failed for any other reason raises TmuxError instead, so a
    caller never mistakes a broken query for a dead fleet.

    With agents on other hosts it is the fleet across them: `server_running` when any host's
    server (this one's included) runs; `unreachable` the hosts that did not answer (host →
    why), and `unseen` the sessions this snapshot cannot speak for (their host did not
    answer, or its last look is older than our last action there): no verdict is made about
    them, they are neither alive nor dead.
    """

    server_running: bool
    panes: Mapping[str, Pane] = field(default_factory=dict)
    unseen: frozenset[str] = frozenset()
    unreachable: Mapping[str, str] = field(default_factory=dict)

    def pane(self, session: str) -> Pane | None:
        return self.panes.get(session)


@dataclass(frozen=True)
class Now:
    """The time of a tick. `mono` (time.monotonic) measures every duration; `wall`
    (time.time) stamps events and places reset times; `tz` is the host's zone, for reset
    times printed without one."""

    mono: float
    wall: float
    tz: tzinfo = UTC


@dataclass(frozen=True)
class LoopSeen:
    """What the watchdog learnt about the loop this tick. `pings` and `head` are set on ticks
    that polled the handoff repo; `done_sha` (the pushed commit whose status file says DONE
    with real text) and `verify` on heavy ticks. `phase_index` is the phase file's, or while
    `phase_problem` says the file is corrupt, the phase the watchdog last knew."""

    phase_index: int
    head: str | None = None
    pings: tuple[Ping, ...] = ()
    done_sha: str | None = None
    verify: VerifyResult | None = None
    done_checked: bool = False  # a heavy tick looked at the status file
    phase_problem: str | None = None  # doors/markers.read_phase: why the file gave no index
    rerun: bool = False  # the operator asked to run the completed sequence's phase again


@dataclass(frozen=True)
class Observed:
    """What the watchdog saw this pass. `screens` holds only the panes it captured;
    `unchanged` the sessions it looked at and found unchanged since their last capture
    (tmux saw no output from them), so their last screen still holds. Screen rules (stall,
    limit, dialog, wake, fatal) judge an agent only on such a look of THIS pass: a pass
    woken by another agent's death, a reload or an operator command looks at no screen and
    so judges none."""

    server_running: bool
    panes: Mapping[str, Pane]
    screens: Mapping[str, str] = field(default_factory=dict)
    stopped: frozenset[str] = frozenset()  # agents the operator stopped with `agents down`
    operator_starts: Mapping[str, float] = field(default_factory=dict)  # name → epoch of `up`
    log_written: Mapping[str, float] = field(default_factory=dict)  # session → log mtime
    loop: LoopSeen | None = None
    unchanged: frozenset[str] = frozenset()
    signals: Mapping[str, SignalRecord] = field(default_factory=dict)  # agent → its latest
    api_errors: Mapping[str, ApiError] = field(default_factory=dict)  # agent → transcript's
    # agent → its oldest queued text, when nothing is being typed into it right now
    inbox: Mapping[str, Queued] = field(default_factory=dict)
    # Sessions on other hosts this pass cannot speak for, and the hosts that did not answer
    # (see Snapshot): no rule judges those agents this pass.
    unseen: frozenset[str] = frozenset()
    unreachable: Mapping[str, str] = field(default_factory=dict)

    def looked(self, session: str) -> bool:
        """Whether this pass saw the session's screen (captured, or known unchanged)."""
        return session in self.screens or session in self.unchanged
