"""What a valid agents.toml is: frozen dataclasses, each field's default declared here once.

The loader's key tables (tables.py) take their defaults from these fields, so a default is
changed in one place. Values are already converted: paths resolved, regexes compiled
(case-insensitive, multiline), durations in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent_orchestrator.config.userregex import UserRegex

# ping delivery's default boot line (SPEC §3).
BOOT_LINE = ("Your full kickoff prompt is in {kickoff_file} — read it now with: "
             "`cat '{kickoff_file}'` — then follow it exactly.")

KINDS = ("persistent", "loop", "task", "orchestrator")
WATCH_MODES = ("none", "heal", "heal+stall")
DELIVERIES = ("arg", "ping", "exec")
# CLIs whose own signals (hooks, notify programs) the launcher can wire (core/signals.py).
SIGNAL_SOURCES = ("claude", "codex", "gemini")
# The CLIs (by `signals` name) that take our MCP server on their command line (`mcp = true`;
# runtime/mcpwiring.py).
MCP_SOURCES = ("claude", "codex")
WATCHDOG_NAME = "watchdog"  # the watchdog's own session is <prefix>watchdog
TASK_AGENT_PREFIX = "task-"  # a queued task runs as the agent task-<name> (core/tasks.py)
CONTROL_NAME = "watchdog-control"  # its control client's session when it has none
# `[notify] on`: the states an operator may be told about (core/notify.py titles each);
# `limited`/`crash-looping` name the state, `limit`/`crash-loop` the event: both are accepted.
NOTIFY_ON = ("crash-looping", "crash-loop", "limited", "limit", "dialog", "phase-advance",
             "sequence-complete", "fleet-degraded", "fleet-recovered", "turn-finished",
             "stall-reboot", "config-rejected", "task-done", "task-failed")
NOTIFY_DEFAULT_ON = ("crash-looping", "limited", "dialog", "phase-advance",
                     "sequence-complete", "fleet-degraded")
SINK_KINDS = ("webhook", "command")
SINK_FORMATS = ("json", "ntfy", "slack")
# `agents mcp`: its tools; `[mcp] allow` defaults to the read-only ones.
MCP_READ_TOOLS = ("fleet_status", "agent_status", "events", "phase_show", "explain",
                  "logs_tail", "tasks")
MCP_WRITE_TOOLS = ("send", "restart", "up", "down", "phase_set")


@dataclass(frozen=True)
class WatchdogSettings:
    """`[watchdog]`: every duration in seconds."""

    signal_interval: float = 30
    heavy_interval: float = 300
    stall_grace: float = 180
    limit_probe_fallback: float = 300
    limit_reset_slack: float = 45
    restart_backoff: float = 1
    restart_backoff_max: float = 300
    crash_window: float = 600
    crash_limit: int = 5
    fleet_restart_limit: int = 10
    restart_stable: float = 60


@dataclass(frozen=True)
class Backend:
    """`[backend.NAME]`, presets merged in. Regexes are compiled case-insensitive, multiline."""

    name: str
    bin: str
    prompt_delivery: str = "arg"
    flags: str = ""
    model_flag: str = "--model '{model}'"
    supports_resume: bool = False
    resume_flag: str = "--resume '{id}'"
    session_id_flag: str = ""
    # Resume the most recent conversation where ids can't be pinned (`resume --last`).
    continue_flag: str = ""
    skip_permissions: bool = False
    remote_control: bool = False
    remote_control_flag: str = "--remote-control '{session}'"
    preamble: str = ""
    attach: str = "{bin}"
    server: str = ""
    connect_delay: float = 12
    submit_key: str = "Enter"
    model_env: str = ""
    process_name: str | None = None
    active_re: UserRegex | None = None
    limit_re: UserRegex | None = None
    fatal_re: UserRegex | None = None
    prompt_re: UserRegex | None = None
    footer_ui: bool = False
    log_grace: float = 180
    stall_idle: float = 300
    # A CLI that draws each message (prompt, error) as a block in this left gutter and echoes
    # prompts unmarked: limit/fatal text then counts only in the last block (screen.py).
    message_gutter: str = ""
    # ping delivery: the line typed once the CLI is up; `{kickoff_file}` is the prompt's path.
    boot_line: str = BOOT_LINE
    # The CLI says it continues by itself at the reset (on its limit screen): no nudge
    # until it had that chance.
    auto_resume_re: UserRegex | None = None
    # The CLI's own continue after a limit reset: a new turn starts there, as at a prompt.
    resumed_re: UserRegex | None = None
    # Wire the CLI's own signals at launch (a SIGNAL_SOURCES name; "" = the screen only).
    signals: str = ""

    @property
    def takes_mcp(self) -> bool:
        """Whether an agent of this backend can be given `agents mcp` at launch."""
        return self.prompt_delivery == "arg" and self.signals in MCP_SOURCES


@dataclass(frozen=True)
class Wake:
    """`wake = { interval, prompt_file }`: when idle, type the file's text every interval."""

    interval: float
    prompt_file: Path


@dataclass(frozen=True)
class Agent:
    """One `[[agent]]`, with `[defaults]` and env overrides applied and paths resolved."""

    name: str
    session: str
    backend: str
    kind: str = "persistent"
    model: str | None = None
    role: str | None = None
    prompt: str | None = None
    prompt_file: Path | None = None
    dir: Path = Path(".")
    enabled: bool = True
    watch: str = "none"
    resume: bool = False
    wake: Wake | None = None
    # Work in an own git worktree of `dir`'s repository (doors/worktrees.py says where).
    worktree: bool = False
    host: str | None = None  # a [host.NAME]; None: this machine
    # Launched with our MCP server (`agents mcp` for this config): a lead agent.
    mcp: bool = False


@dataclass(frozen=True)
class Host:
    """`[host.NAME]`: another machine, reached with OpenSSH (`ssh` is its destination)."""

    name: str
    ssh: str
    port: int | None = None
    identity_file: Path | None = None  # on this machine
    ssh_config: Path | None = None  # on this machine: `ssh -F` (else ~/.ssh/config applies)
    tmux_socket: str | None = None  # the fleet's tmux server there; None: as on this machine
    python: str = "python3"  # the interpreter there that has agent_orchestrator


@dataclass(frozen=True)
class Service:
    """`[[service]]`: a plain long-running shell command in its own session."""

    name: str
    session: str
    command: str
    dir: Path = Path(".")


@dataclass(frozen=True)
class Phase:
    """One `[[loop.phases]]`: `models` maps a role to the model it uses in this phase."""

    id: str
    status: str
    plan: str = ""
    models: tuple[tuple[str, str], ...] = ()
    verify: tuple[str, ...] = ()

    def model_for(self, role: str | None) -> str | None:
        return dict(self.models).get(role) if role else None


@dataclass(frozen=True)
class Handoff:
    """`[loop.handoff]`: commits in `repo` whose subject matches a pattern ping an agent."""

    repo: Path
    state_subdir: str = "machine-docs"
    claim_pattern: UserRegex | None = UserRegex("^claim")
    review_pattern: UserRegex | None = UserRegex("^review")
    claim_pings: str = "adversary"
    review_pings: str = "builder"
    inboxes: tuple[str, ...] = ("to_adversary", "to_builder")


@dataclass(frozen=True)
class OnComplete:
    """`[loop.on_complete]`: the agent started when the last phase is done."""

    run: str
    trigger_file: str = ".run-on-complete"


@dataclass(frozen=True)
class Loop:
    """`[loop]`: phases worked through in order by the loop agents."""

    phases: tuple[Phase, ...] = ()
    state_file: str = "phase-idx"
    done_marker: str = "## DONE"
    kickoff_template: Path | None = None
    roles_dir: Path = Path("prompts")
    auto_advance: bool = True
    resume_phase: bool = True
    handoff: Handoff | None = None
    on_complete: OnComplete | None = None


@dataclass(frozen=True)
class NotifySink:
    """One `[[notify.sink]]`: a "webhook" (`url`, `format`, extra `headers`) or a
    "command" (`argv`, the notification as JSON on stdin). `url` and `headers` may hold
    secrets: they are shown only through doors/notify.py's `shown`."""

    kind: str
    url: str | None = None
    format: str = "json"
    headers: tuple[tuple[str, str], ...] = ()
    argv: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notify:
    """`[notify]`: which states become messages (`on`), where they go, and how hard to try.
    `min_gap`: seconds before the same agent is told about the same kind again."""

    on: tuple[str, ...] = NOTIFY_DEFAULT_ON
    sinks: tuple[NotifySink, ...] = ()
    min_gap: float = 600
    attempts: int = 3
    backoff: float = 1
    timeout: float = 10


@dataclass(frozen=True)
class Mcp:
    """`[mcp]`: the tools `agents mcp` serves (`"*"`: all of them)."""

    allow: tuple[str, ...] = MCP_READ_TOOLS


@dataclass(frozen=True)
class Tasks:
    """`[tasks]`: the one-shot task queue (`agents submit`). `backend` None: the task
    agents use `[defaults]`' backend, else the first declared one."""

    max_parallel: int = 2
    backend: str | None = None
    model: str | None = None
    worktree: bool = True
    base: str = "HEAD"
    keep_worktrees: bool = False


@dataclass(frozen=True)
class Config:
    """A whole, valid agents.toml."""

    path: Path
    project_dir: Path
    session_prefix: str
    log_dir: Path
    tmux_socket: str | None
    watchdog: WatchdogSettings
    backends: tuple[Backend, ...]
    agents: tuple[Agent, ...]
    services: tuple[Service, ...] = ()
    hosts: tuple[Host, ...] = ()
    loop: Loop | None = None
    tasks: Tasks = Tasks()
    log_max_bytes: int = 20_000_000
    log_keep: int = 1
    notify: Notify | None = None
    mcp: Mcp = Mcp()
    digest: str = field(default="", compare=False)  # sha256 of the file's bytes, 12 digits
    # Accepted but worth saying (a group-writable prompt file), as `FILE:LINE: key: text`.
    warnings: tuple[str, ...] = field(default=(), compare=False)
    source: bytes = field(default=b"", compare=False, repr=False)  # the bytes loaded

    @property
    def state_dir(self) -> Path:
        return self.log_dir / "state"

    @property
    def watchdog_session(self) -> str:
        return self.session_prefix + WATCHDOG_NAME

    @property
    def control_session(self) -> str:
        """The session of the watchdog's control client when it has no session of its own
        (doors/tmuxcontrol.py)."""
        return self.session_prefix + CONTROL_NAME

    def backend(self, name: str) -> Backend:
        return next(b for b in self.backends if b.name == name)

    def agent(self, name: str) -> Agent | None:
        return next((a for a in self.agents if a.name == name), None)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)
