"""agents.toml → frozen dataclasses (SPEC §1).

`load(path)` reads the file, merges the built-in presets under the user's `[backend.*]`
tables, fills agents from `[defaults]`, resolves paths against the project root and checks
everything. It raises `ConfigError` listing every problem as `agents.toml:LINE: key: message`;
it never returns a half-valid config. Nothing past this module sees a raw dict.

The config file and every prompt file it names must be trustworthy (filetrust.py: ours or
root's, not world-writable): an untrusted one is a problem like any other. A group-writable
one is accepted with a warning, kept in `Config.warnings` and logged (on stderr for the CLI).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent_orchestrator.config import filetrust
from agent_orchestrator.config.presets import PRESETS, SKIP_PERMISSIONS
from agent_orchestrator.config.schema import NAME_RE, Field, Problem, Problems, check_table, dotted
from agent_orchestrator.config.templates import TemplateError, check_shell_template, split_words
from agent_orchestrator.config.tomlpos import KeyLines

# ping delivery's default boot line (SPEC §3).
BOOT_LINE = ("Your full kickoff prompt is in {kickoff_file} — read it now with: "
             "`cat '{kickoff_file}'` — then follow it exactly.")

KINDS = ("persistent", "loop", "task", "orchestrator")
WATCH_MODES = ("none", "heal", "heal+stall")
DELIVERIES = ("arg", "ping", "exec")
WATCHDOG_NAME = "watchdog"  # the watchdog's own session is <prefix>watchdog

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """The config file cannot be used; `problems` lists every reason found. `digest` names
    the content that was rejected (content_digest), when it could be read."""

    def __init__(self, filename: str, problems: list[Problem], digest: str | None = None) -> None:
        self.filename = filename
        self.problems = problems
        self.digest = digest
        super().__init__("\n".join(p.render(filename) for p in problems))


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
    active_re: re.Pattern[str] | None = None
    limit_re: re.Pattern[str] | None = None
    fatal_re: re.Pattern[str] | None = None
    prompt_re: re.Pattern[str] | None = None
    footer_ui: bool = False
    log_grace: float = 180
    stall_idle: float = 300
    # A CLI that draws each message (prompt, error) as a block in this left gutter and echoes
    # prompts unmarked: limit/fatal text then counts only in the last block (screen.py).
    message_gutter: str = ""
    # ping delivery: the line typed once the CLI is up; `{kickoff_file}` is the prompt's path.
    boot_line: str = BOOT_LINE


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


@dataclass(frozen=True)
class Service:
    """`[[service]]`: a plain long-running shell command in its own session."""

    name: str
    session: str
    command: str
    dir: Path


@dataclass(frozen=True)
class Phase:
    id: str
    status: str
    plan: str = ""
    models: tuple[tuple[str, str], ...] = ()
    verify: tuple[str, ...] = ()

    def model_for(self, role: str | None) -> str | None:
        return dict(self.models).get(role) if role else None


@dataclass(frozen=True)
class Handoff:
    repo: Path
    state_subdir: str = "machine-docs"
    claim_pattern: re.Pattern[str] | None = None
    review_pattern: re.Pattern[str] | None = None
    claim_pings: str = "adversary"
    review_pings: str = "builder"
    inboxes: tuple[str, ...] = ("to_adversary", "to_builder")


@dataclass(frozen=True)
class OnComplete:
    run: str
    trigger_file: str = ".run-on-complete"


@dataclass(frozen=True)
class Loop:
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
    loop: Loop | None = None
    log_max_bytes: int = 20_000_000
    log_keep: int = 1
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

    def backend(self, name: str) -> Backend:
        return next(b for b in self.backends if b.name == name)

    def agent(self, name: str) -> Agent | None:
        return next((a for a in self.agents if a.name == name), None)

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)


# ----------------------------------------------------------------------------- schema

_DEFAULTS_OWN = {
    "session_prefix": Field("str", required=True),
    "log_dir": Field("nonempty", required=True),
    "project_dir": Field("nonempty"),
    "tmux_socket": Field("name"),
    "log_max_bytes": Field("int", 20_000_000, minimum=4096),
    "log_keep": Field("int", 1, minimum=1),
}
_AGENT = {
    "name": Field("name", required=True),
    "kind": Field("choice", "persistent", choices=KINDS),
    "backend": Field("nonempty"),
    "model": Field("nonempty"),  # "" would silently mean "the CLI's default model"
    "role": Field("name"),
    "prompt": Field("str"),
    "prompt_file": Field("nonempty"),
    "dir": Field("nonempty", "."),
    "session": Field("name"),
    "enabled": Field("bool", True),
    "watch": Field("choice", "none", choices=WATCH_MODES),
    "resume": Field("bool", False),
    "wake": Field("table"),
}
# Any agent key except its identity may be defaulted in [defaults].
_DEFAULTS = _DEFAULTS_OWN | {k: v for k, v in _AGENT.items() if k not in ("name", "session")}
_WAKE = {"interval": Field("number", required=True, minimum=1),
         "prompt_file": Field("nonempty", required=True)}
_WATCHDOG = {
    "signal_interval": Field("number", 30, minimum=0.1),
    "heavy_interval": Field("number", 300, minimum=0.1),
    "stall_grace": Field("number", 180),
    "limit_probe_fallback": Field("number", 300, minimum=1),
    "limit_reset_slack": Field("number", 45),
    "restart_backoff": Field("number", 1),
    "restart_backoff_max": Field("number", 300),
    "crash_window": Field("number", 600, minimum=1),
    "crash_limit": Field("int", 5, minimum=1),
    "fleet_restart_limit": Field("int", 10, minimum=1),
    "restart_stable": Field("number", 60),
}
_BACKEND = {
    "bin": Field("nonempty", required=True),
    "prompt_delivery": Field("choice", "arg", choices=DELIVERIES),
    "flags": Field("str", ""),
    "model_flag": Field("str", "--model '{model}'"),
    "supports_resume": Field("bool", False),
    "resume_flag": Field("str", "--resume '{id}'"),
    "session_id_flag": Field("str", ""),
    "continue_flag": Field("str", ""),
    "skip_permissions": Field("bool", False),
    "remote_control": Field("bool", False),
    "remote_control_flag": Field("str", "--remote-control '{session}'"),
    "preamble": Field("str", ""),
    "attach": Field("str", "{bin}"),
    "server": Field("str", ""),
    "connect_delay": Field("number", 12),
    "submit_key": Field("nonempty", "Enter"),
    "model_env": Field("model_env", ""),
    "process_name": Field("nonempty"),
    "active_re": Field("regex"),
    "limit_re": Field("regex"),
    "fatal_re": Field("regex"),
    "prompt_re": Field("regex"),
    "footer_ui": Field("bool", False),
    "log_grace": Field("number", 180),
    "stall_idle": Field("number", 300, minimum=1),
    "message_gutter": Field("str", ""),
    "boot_line": Field("nonempty", BOOT_LINE),
}
_SERVICE = {"name": Field("name", required=True), "command": Field("nonempty", required=True),
            "dir": Field("nonempty", "."), "session": Field("name")}
_PHASE = {"id": Field("nonempty", required=True), "status": Field("nonempty", required=True),
          "plan": Field("str", ""), "models": Field("strmap", ()),
          "verify": Field("strlist", ())}
_HANDOFF = {
    "repo": Field("nonempty", required=True),
    "state_subdir": Field("str", "machine-docs"),
    "claim_pattern": Field("regex", re.compile("^claim", re.I | re.M)),
    "review_pattern": Field("regex", re.compile("^review", re.I | re.M)),
    "claim_pings": Field("name", "adversary"),
    "review_pings": Field("name", "builder"),
    "inboxes": Field("strlist", ("to_adversary", "to_builder")),
}
_ON_COMPLETE = {"run": Field("name", required=True),
                "trigger_file": Field("nonempty", ".run-on-complete")}
_LOOP = {
    "phases": Field("list", []),
    "state_file": Field("name", "phase-idx"),
    "done_marker": Field("nonempty", "## DONE"),
    "kickoff_template": Field("nonempty"),
    "roles_dir": Field("nonempty", "prompts"),
    "auto_advance": Field("bool", True),
    "resume_phase": Field("bool", True),
    "handoff": Field("table"),
    "on_complete": Field("table"),
}
_TOP = {"defaults": Field("table", required=True), "watchdog": Field("table", {}),
        "backend": Field("table", {}), "agent": Field("list", []),
        "service": Field("list", []), "loop": Field("table")}


# ----------------------------------------------------------------------------- loading

def builtin_backend(name: str) -> Backend:
    """A preset as a Backend with no config file (for `explain --backend` and selftest).
    Raises KeyError for an unknown name."""
    problems = Problems(KeyLines(""))
    values = check_table(PRESETS[name], _BACKEND, ("backend", name), problems)
    if problems.items:  # a broken preset is a bug of ours, not the user's
        raise ValueError("; ".join(p.render("presets.py") for p in problems.items))
    return Backend(name=name, **values)


def load(path: str | Path, env: Mapping[str, str] | None = None,
         data: bytes | None = None) -> Config:
    """Read and validate a config file.

    `env` supplies the one-off `AGENT_MODEL_<name>` / `AGENT_BACKEND_<name>` overrides; pass
    None (the watchdog does) to read the file alone. `data` is the file's content when it was
    read elsewhere (a saved last-good copy); paths still resolve against `path`. Raises
    ConfigError, never a traceback for a user's mistake (unreadable or untrusted file, bad
    TOML, values); the error's `digest` names the rejected content. The file is read through
    filetrust (judged as opened, never read when refused); warnings are logged and kept in
    `Config.warnings`.
    """
    path = Path(path)
    shown = str(path)
    first_warning = None
    try:
        if data is None:
            data, first_warning = filetrust.read_bytes(path, path.name,
                                                       filetrust.CONFIG_STAKES)
    except filetrust.Untrusted as exc:
        raise ConfigError(shown, [Problem(None, "", str(exc))]) from None
    except OSError as exc:
        raise ConfigError(shown, [Problem(None, "", f"cannot read: {exc.strerror}")]) from None
    text = data.decode("utf-8", errors="replace")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(m.group(1)) if m else None
        where = f"TOML syntax error at column {m.group(2)}: " if m else "TOML syntax error: "
        raise ConfigError(shown, [Problem(line, "", where + message)],
                          content_digest(data)) from None
    builder = _Builder(path, KeyLines(text), env or {})
    config = builder.build(raw)
    if builder.problems.items:
        raise ConfigError(shown, sorted(builder.problems.items, key=lambda p: p.line or 0),
                          content_digest(data))
    assert config is not None
    warnings = ([f"{shown}: {first_warning}"] if first_warning else []) + [
        p.render(shown) for p in builder.warnings.items]
    for warning in warnings:
        log.warning("agents: warning: %s", warning)
    return replace(_with_digest(config, data), warnings=tuple(warnings), source=data)


def _with_digest(config: Config, data: bytes) -> Config:
    return replace(config, digest=content_digest(data))


def content_digest(data: bytes) -> str:
    """How a version of the config file is named in events and status: 12 hex digits."""
    return hashlib.sha256(data).hexdigest()[:12]


class _Builder:
    """Turns the raw dict into a Config, recording every problem on the way."""

    def __init__(self, path: Path, lines: KeyLines, env: Mapping[str, str]) -> None:
        self.path = path.resolve()
        self.problems = Problems(lines)
        self.warnings = Problems(lines)
        self.env = env
        self.root = self.path.parent

    def build(self, raw: dict[str, Any]) -> Config | None:
        top = check_table(raw, _TOP, (), self.problems)
        raw_defaults = top.get("defaults") or {}
        defaults = check_table(raw_defaults, _DEFAULTS, ("defaults",), self.problems)
        # Only valid agent keys flow into agents: a bad default is reported once, at its line.
        flawed = {p.key for p in self.problems.items}
        agent_defaults = {k: v for k, v in raw_defaults.items()
                          if k in _AGENT and f"defaults.{k}" not in flawed}
        if defaults.get("project_dir"):
            self.root = self._path(defaults["project_dir"], self.path.parent)
        prefix = defaults.get("session_prefix")
        if isinstance(prefix, str) and prefix and not re.fullmatch(r"[A-Za-z0-9][\w-]*", prefix):
            self.problems.add(("defaults", "session_prefix"),
                              "may hold only letters, digits, '-' and '_' (tmux rewrites "
                              "other characters in session names)")
            prefix = None
        watchdog = WatchdogSettings(**check_table(top.get("watchdog", {}), _WATCHDOG,
                                                  ("watchdog",), self.problems))
        backends = self._backends(top.get("backend", {}))
        agents = self._agents(top.get("agent", []), agent_defaults, prefix or "",
                              {b.name for b in backends})
        services = self._services(top.get("service", []), prefix or "")
        loop = self._loop(top["loop"], agents) if "loop" in top and top["loop"] else None
        self._check_names(agents, services, prefix or "")
        if self.problems.items or prefix is None or not defaults.get("log_dir"):
            return None
        return Config(
            path=self.path, project_dir=self.root, session_prefix=prefix,
            log_dir=self._path(defaults["log_dir"]), tmux_socket=defaults.get("tmux_socket"),
            watchdog=watchdog, backends=backends, agents=agents, services=services,
            loop=loop, log_max_bytes=defaults["log_max_bytes"], log_keep=defaults["log_keep"])

    def _path(self, value: str, base: Path | None = None) -> Path:
        return ((base or self.root) / Path(value).expanduser()).resolve()

    def _file(self, value: str, where: tuple[Any, ...], label: str | None = None) -> Path:
        """A prompt file: it must exist and be trustworthy (filetrust.py)."""
        unresolved = (self.root / Path(value).expanduser())
        resolved = self._path(value)
        if not resolved.is_file():
            self.problems.add(where, f"file not found: {resolved}", label=label)
            return resolved
        # Judged through the path as written: a symlink is named as one in messages.
        verdict = filetrust.inspect(unresolved, value)
        if verdict.problem:
            self.problems.add(where, verdict.problem, label=label)
        elif verdict.warning:
            self.warnings.add(where, verdict.warning, label=label)
        return resolved

    # -- backends

    def _backends(self, raw: Any) -> tuple[Backend, ...]:
        if not isinstance(raw, dict):
            return ()
        out = []
        for name in sorted(set(PRESETS) | set(raw)):
            table = raw.get(name, {})
            if not isinstance(table, dict):
                self.problems.add(("backend", name), "expected a table",
                                  label=f"backend.{name}")
                if name not in PRESETS:
                    continue
                table = {}  # report once; agents using the preset need no second error
            merged = dict(PRESETS.get(name, {})) | (table if isinstance(table, dict) else {})
            values = check_table(merged, _BACKEND, ("backend", name), self.problems)
            self._check_templates(name, values)
            if "bin" in values:
                out.append(Backend(name=name, **values))
        return tuple(out)

    def _check_templates(self, name: str, values: dict[str, Any]) -> None:
        """Reject templates that would split a value or not parse, before any launch."""
        where = ("backend", name)
        if values.get("skip_permissions") and name not in SKIP_PERMISSIONS:
            self.problems.add(where + ("skip_permissions",), "no known permission-skip flag "
                              f"for backend '{name}' (known for: "
                              f"{', '.join(sorted(SKIP_PERMISSIONS))}); put it in `flags`",
                              label=f"backend.{name}.skip_permissions")
        for key in ("flags", "model_flag", "resume_flag", "session_id_flag", "continue_flag",
                    "remote_control_flag"):
            try:
                split_words(values.get(key) or "")
            except TemplateError as exc:
                self.problems.add(where + (key,), str(exc), label=f"backend.{name}.{key}")
        shell_checks = [("attach", ("dir", "session", "model", "kickoff_file")),
                        ("preamble", ())]
        if values.get("prompt_delivery") == "exec":
            shell_checks.append(("bin", ("kickoff", "kickoff_file", "session", "model",
                                         "dir", "id")))
        elif "bin" in values:
            try:
                split_words(values["bin"])
            except TemplateError as exc:
                self.problems.add(where + ("bin",), str(exc), label=f"backend.{name}.bin")
        for key, names in shell_checks:
            if values.get(key) and (why := check_shell_template(values[key], names)):
                self.problems.add(where + (key,), why, label=f"backend.{name}.{key}")

    # -- agents

    def _agents(self, raw: Any, defaults: dict[str, Any], prefix: str,
                backends: set[str]) -> tuple[Agent, ...]:
        if not isinstance(raw, list):
            return ()
        out = []
        for index, entry in enumerate(raw):
            where = ("agent", index)
            merged = defaults | entry if isinstance(entry, dict) else entry
            known = entry.get("name") if isinstance(entry, dict) else None
            label = f"agent.{known}" if type(known) is str and NAME_RE.fullmatch(known) else None
            values = check_table(merged, _AGENT, where, self.problems, label)
            if "name" not in values:
                continue
            name = values["name"]
            for var, key in ((f"AGENT_MODEL_{name}", "model"),
                             (f"AGENT_BACKEND_{name}", "backend")):
                # The exact spelling wins over the shell-friendly one (`-` written `_`).
                for spelling in (re.sub(r"\W", "_", var), var):
                    if spelling in self.env:
                        values[key] = self.env[spelling]
            backend = values.get("backend")
            if not backend:
                if "backend" not in merged:  # a bad value was reported at its own line
                    self.problems.add(where, "no backend: set 'backend' here or in [defaults]",
                                      label=f"agent.{name}.backend")
                continue
            if backend not in backends:
                hint = difflib.get_close_matches(backend, sorted(backends), n=1)
                self.problems.add(where + ("backend",),
                                  f"unknown backend '{backend}'"
                                  + (f" (did you mean '{hint[0]}'?)" if hint else
                                     f" (expected one of {', '.join(sorted(backends))})"),
                                  label=f"agent.{name}.backend")
            if values.get("prompt") is not None and values.get("prompt_file"):
                self.problems.add(where, "set 'prompt' or 'prompt_file', not both",
                                  label=f"agent.{name}")
            if values.get("kind") == "loop" and not values.get("role"):
                self.problems.add(where, "a loop agent needs a 'role'", label=f"agent.{name}")
            prompt_file = values.get("prompt_file")
            wake = self._wake(values.get("wake"), where + ("wake",), f"agent.{name}.wake")
            out.append(Agent(
                name=name, session=values.get("session") or prefix + name,
                backend=backend, kind=values["kind"], model=values.get("model"),
                role=values.get("role"), prompt=values.get("prompt"),
                prompt_file=self._file(prompt_file, where + ("prompt_file",),
                                       f"agent.{name}.prompt_file") if prompt_file else None,
                dir=self._path(values["dir"]), enabled=values["enabled"],
                watch=values["watch"], resume=values["resume"], wake=wake))
        return tuple(out)

    def _wake(self, raw: Any, where: tuple[Any, ...], label: str) -> Wake | None:
        if raw is None:
            return None
        values = check_table(raw, _WAKE, where, self.problems, label)
        if "interval" not in values or "prompt_file" not in values:
            return None
        return Wake(values["interval"], self._file(values["prompt_file"],
                                                   where + ("prompt_file",),
                                                   f"{label}.prompt_file"))

    def _services(self, raw: Any, prefix: str) -> tuple[Service, ...]:
        if not isinstance(raw, list):
            return ()
        out = []
        for index, entry in enumerate(raw):
            values = check_table(entry, _SERVICE, ("service", index), self.problems)
            if "name" in values and "command" in values:
                out.append(Service(values["name"], values.get("session") or prefix +
                                   values["name"], values["command"], self._path(values["dir"])))
        return tuple(out)

    def _check_names(self, agents: tuple[Agent, ...], services: tuple[Service, ...],
                     prefix: str) -> None:
        seen_names: dict[str, str] = {}
        seen_sessions: dict[str, str] = {prefix + WATCHDOG_NAME: "the watchdog"}
        entries = [(("agent", i), "agent", a.name, a.session) for i, a in enumerate(agents)]
        entries += [(("service", i), "service", s.name, s.session) for i, s in
                    enumerate(services)]
        for where, kind, name, session in entries:
            # tmux session names are case-sensitive but people (and some filesystems holding
            # our per-agent files) are not: treat `Agent` and `agent` as the same name.
            if (other := seen_names.get(name.lower())) is not None:
                self.problems.add(where + ("name",), f"duplicate name '{name}' (already used "
                                  f"by {other})", label=f"{kind}.{name}")
                continue
            seen_names[name.lower()] = f"{kind} '{name}'"
            if (owner := seen_sessions.get(session.lower())) is not None:
                self.problems.add(where, f"session name '{session}' is already used by "
                                  f"{owner}", label=f"{kind}.{name}.session")
            seen_sessions.setdefault(session.lower(), f"{kind} '{name}'")

    # -- loop

    def _loop(self, raw: Any, agents: tuple[Agent, ...]) -> Loop | None:
        values = check_table(raw, _LOOP, ("loop",), self.problems)
        phases = []
        for index, entry in enumerate(values.get("phases") or []):
            pv = check_table(entry, _PHASE, ("loop", "phases", index), self.problems)
            if "id" in pv and "status" in pv:
                phases.append(Phase(**pv))
        ids = [p.id for p in phases]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            self.problems.add(("loop", "phases"), f"duplicate phase id '{dup}'")
        roles_dir = self._path(values.get("roles_dir") or "prompts")
        for index, agent in enumerate(agents):
            if agent.kind == "loop" and agent.role:
                self._file(str(roles_dir / f"{agent.role}.md"), ("agent", index, "role"),
                           f"agent.{agent.name}.role")
        kickoff = values.get("kickoff_template")
        handoff = self._handoff(values.get("handoff"), agents)
        on_complete = None
        if values.get("on_complete") is not None:
            oc = check_table(values["on_complete"], _ON_COMPLETE, ("loop", "on_complete"),
                             self.problems)
            if "run" in oc:
                if not any(a.name == oc["run"] for a in agents):
                    self.problems.add(("loop", "on_complete", "run"),
                                      f"no agent named '{oc['run']}'")
                on_complete = OnComplete(**oc)
        return Loop(
            phases=tuple(phases), state_file=values.get("state_file") or "phase-idx",
            done_marker=values.get("done_marker") or "## DONE",
            kickoff_template=self._file(kickoff, ("loop", "kickoff_template"))
            if kickoff else None,
            roles_dir=roles_dir, auto_advance=values.get("auto_advance", True),
            resume_phase=values.get("resume_phase", True), handoff=handoff,
            on_complete=on_complete)

    def _handoff(self, raw: Any, agents: tuple[Agent, ...]) -> Handoff | None:
        if raw is None:
            return None
        where = ("loop", "handoff")
        values = check_table(raw, _HANDOFF, where, self.problems)
        if "repo" not in values:
            return None
        known = {a.name for a in agents if a.kind == "loop"} | {
            a.role for a in agents if a.kind == "loop" and a.role}
        for key in ("claim_pings", "review_pings"):
            target = values.get(key)
            if target and target not in known:
                self.problems.add(where + (key,), f"'{target}' is not a loop agent's name or "
                                  f"role (expected one of {', '.join(sorted(known)) or 'none'})",
                                  label=dotted(where + (key,)))
        values["repo"] = self._path(values["repo"])
        return Handoff(**values)
