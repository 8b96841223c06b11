"""What the watchdog remembers about each agent and the fleet between ticks (data only;
doors/memorystore.py stores it as JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# Stamps every look rewrites: a change of these alone is not worth a state write each pass.
LOOK_STAMPS = ("looked_at",)
RESTART_RECORD = 3600.0  # how long restarts are remembered one by one (`restarts_1h`)


@dataclass(frozen=True)
class AgentMemory:
    """The watchdog's memory of one agent.

    Durations are measured on the monotonic clock (`*_at` fields, seconds since boot), so a
    wall-clock jump never makes every agent look stalled at once; `*_wall` fields are epoch
    seconds, kept only for display and for comparing with file times.
    """

    started_at: float | None = None  # when the watchdog last started it
    starts: int = 0  # how many times it was started or adopted
    restarts: int = 0  # starts after the first
    last_exit: int | None = None  # exit status of its last death, if tmux saw one
    last_event: str | None = None
    last_event_wall: float | None = None
    # restarts and crash loops
    deaths: tuple[float, ...] = ()  # deaths, fatal restarts and stall reboots in crash_window
    restart_walls: tuple[float, ...] = ()  # its restarts (epoch) in the last RESTART_RECORD s
    failures: int = 0  # consecutive failures that came before a stable run (back-off exponent)
    restart_due_at: float | None = None  # a failed agent is started again at this time
    crash_looping_wall: float | None = None  # set: FATAL, no more restarts
    pane_pid: int | None = None  # the pid of the run we know (None: just started by us)
    # the screen
    looked_at: float | None = None  # the last look at its screen, or its (re)start
    captured_wall: float | None = None  # when the screen was last read (epoch)
    screen_hash: str | None = None
    screen_changed_at: float | None = None
    screen_state: str | None = None  # screen.ScreenView.state of the last capture
    screen_limit: bool = False  # the last capture showed a limit banner (maybe behind a spinner)
    # the state judged at the last look, from the screen or the agent's own signals
    state: str | None = None
    state_source: str | None = None  # "hook", "notify", "transcript" or "screen"
    signal_turns: int | None = None  # finished turns already reported (None: not counted yet)
    disagreed_wall: float | None = None  # the signal whose disagreement was reported
    signal_wall: float | None = None  # the newest signal (or transcript error) judged
    limit_source: str | None = None  # what showed the limit: "screen" or "transcript"
    limit_auto: bool = False  # the CLI said it continues by itself at the reset
    active_at: float | None = None  # last time it was seen working
    waiting_until_wall: float | None = None  # a WAITING-UNTIL marker on screen
    dialog_line: str | None = None  # waiting at a permission / trust dialog
    # usage limits
    limit_until: float | None = None  # inside a limit window until then
    limit_reset_wall: float | None = None  # the reset time read from the banner, if any
    limit_nudged: bool = False
    woken_at: float | None = None


@dataclass(frozen=True)
class LoopMemory:
    """What the loop rules remember: the phase the loop agents run, the last commit of
    origin/main already relayed, verify outcomes per commit, and completion.

    The current phase lives in the phase file alone (doors/markers.read_phase); `phase` is
    the phase the loop agents were STARTED on: a file that says otherwise means the operator
    moved it (the loops restart on it), and while the file is corrupt the watchdog keeps to
    this one."""

    phase: int | None = None  # the phase index the loop agents were started on
    seen_sha: str | None = None  # origin/main's head when pings were last relayed
    verify_failed_sha: str | None = None  # a DONE commit whose verify failed (told once)
    sequence_complete: bool = False
    done_note: str | None = None  # what the last DONE check found, for `agents status`
    phase_problem: str | None = None  # the corrupt phase file last reported (once per content)


@dataclass(frozen=True)
class FleetMemory:
    """Per-agent memory plus what the fleet-wide rules need."""

    agents: dict[str, AgentMemory] = field(default_factory=dict)
    fleet_starts: tuple[float, ...] = ()  # (re)starts in the last minute, for the fleet cap
    throttled: bool = False  # the fleet cap held restarts back (reported once per burst)
    server_up: bool = True  # the tmux server was running at the last look
    loop: LoopMemory = field(default_factory=LoopMemory)
    degraded: bool = False  # most of the fleet was failing at the last look (one alert each)
    # Hosts that did not answer at the last look (one event each way). Not saved: a new
    # watchdog tells again what it finds.
    unreachable: tuple[str, ...] = ()

    def agent(self, name: str) -> AgentMemory:
        return self.agents.get(name, AgentMemory())


def only_look_stamps_differ(old: FleetMemory, new: FleetMemory) -> bool:
    """Whether `new` differs from `old` in LOOK_STAMPS only (the watchdog then saves it
    less often: losing them costs at most a restarted idle clock, never a wrong verdict)."""
    if (old.fleet_starts, old.throttled, old.server_up, old.loop, old.degraded) != (
            new.fleet_starts, new.throttled, new.server_up, new.loop, new.degraded) \
            or old.agents.keys() != new.agents.keys():
        return False
    return all(a is b or all(getattr(a, f) == getattr(b, f) for f in _COMPARED)
               for a, b in ((old.agents[n], new.agents[n]) for n in old.agents))


_COMPARED = tuple(f.name for f in fields(AgentMemory) if f.name not in LOOK_STAMPS)
