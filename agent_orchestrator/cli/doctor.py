"""`agents doctor`: can this machine run this fleet?

Checks tmux (present, recent enough), git, which agent CLIs are installed (with versions),
whether every backend an enabled agent uses resolves to a program, the config's health, the
state/log folders' permissions, and the watchdog. A CLI nobody configured is only reported;
`fail` is for what the configured fleet needs and cannot have (exit 1).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator import config as config_mod
from agent_orchestrator.config.presets import CHECKED_VERSIONS, PRESETS
from agent_orchestrator.config.templates import PYTHON, command_word
from agent_orchestrator.doors import fdlimit, lock, proctree
from agent_orchestrator.doors.tmux import Tmux, TmuxError

MIN_TMUX = (3, 2)  # control clients' `attach -f ignore-size,no-output`; argv new-session


@dataclass(frozen=True)
class Check:
    """One line of the report. `status`: ok, info, warn or fail."""

    name: str
    status: str
    detail: str


UNCHECKED = ""  # `program` of a shell command line whose program cannot be told


def program(bin_text: str, shell: bool = False) -> str | None:
    """The executable a backend's `bin` runs, resolved on PATH: None when it is not found,
    UNCHECKED for a shell command line that names no program (templates.command_word)."""
    word = command_word(bin_text, shell)
    if word is None:
        return UNCHECKED if shell else None
    if "/" in word:
        return word if os.access(word, os.X_OK) else None
    return shutil.which(word)


def runs_a_shell(backend: config_mod.Backend) -> bool:
    """Whether `bin` is part of a shell command line (exec's template, ping's attach)."""
    return backend.prompt_delivery in ("exec", "ping")


def _version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10,
                             check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"version unknown ({exc.__class__.__name__})"
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0][:80] if first else "version unknown"


def check_tmux(tmux: Tmux) -> Check:
    """tmux's whole version as it prints it (`3.3a`), or why it cannot run the fleet."""
    need = f"{MIN_TMUX[0]}.{MIN_TMUX[1]} or newer"
    if shutil.which("tmux") is None:
        return Check("tmux", "fail", f"not installed (no 'tmux' on PATH): install tmux {need} "
                     "(e.g. apt-get install tmux, brew install tmux)")
    try:
        version = tmux.version()
    except TmuxError as exc:
        return Check("tmux", "fail", f"{exc}; tmux {need} is needed")
    found = re.match(r"(\d+)\.(\d+)", version)
    if found and (int(found.group(1)), int(found.group(2))) < MIN_TMUX:
        return Check("tmux", "fail", f"tmux {version} is too old: {need} is needed")
    return Check("tmux", "ok", f"tmux {version}")


def check_clis(used: set[str], backends: dict[str, str],
               shell: frozenset[str] = frozenset()) -> list[Check]:
    """Every known CLI (presets and configured backends): installed or not. `shell`: the
    backends whose `bin` is part of a shell command line (`runs_a_shell`)."""
    checks = []
    for name in sorted(set(PRESETS) - {"demo"} | set(backends)):
        bin_text = backends.get(name) or str(PRESETS.get(name, {}).get("bin", name))
        path = program(bin_text, name in shell)
        needed = name in used
        if path == UNCHECKED:
            checks.append(Check(f"backend {name}", "info", f"'{bin_text}' is a shell command "
                                "line: its program is not checked"))
        elif path is None:
            status = "fail" if needed else "info"
            why = "used by an enabled agent" if needed else "not configured"
            checks.append(Check(f"backend {name}", status, f"'{bin_text}' not found ({why})"))
        elif name == "demo" or PYTHON in bin_text:
            checks.append(Check(f"backend {name}", "ok", f"{path} (the bundled demo agent)"))
        else:
            checks.append(_version_check(name, path, _version(path)))
    return checks


def _version_check(name: str, path: str, version: str) -> Check:
    """A CLI newer than the newest release its preset was checked against is a warning:
    its screens may have changed (`agents explain NAME` shows what the regexes see)."""
    checked = CHECKED_VERSIONS.get(name)
    found = re.search(r"\d+(?:\.\d+)+", version)
    if checked and found and _newer(found.group(0), checked):
        return Check(f"backend {name}", "warn", f"{path}: {version}; the preset was checked "
                     f"against {checked}: if its screens changed, `agents explain NAME` shows "
                     "what the regexes see, and [backend.NAME] overrides them")
    return Check(f"backend {name}", "ok", f"{path}: {version}")


def _newer(version: str, than: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split("."))
    return parts(version) > parts(than)


def check_folders(config: config_mod.Config) -> list[Check]:
    checks = []
    for folder in (config.log_dir, config.state_dir):
        if not folder.exists():
            checks.append(Check(f"folder {folder}", "info", "created at the first `up`"))
            continue
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & 0o077:
            checks.append(Check(f"folder {folder}", "warn", f"mode {mode:o}: other users can "
                                "read prompts and logs (expected 700)"))
        elif not os.access(folder, os.W_OK):
            checks.append(Check(f"folder {folder}", "fail", "not writable"))
        else:
            checks.append(Check(f"folder {folder}", "ok", f"mode {mode:o}"))
    return checks


def check_sinks(config: config_mod.Config) -> list[Check]:
    """Each `[[notify.sink]]`: a webhook's host answers, a command's program is found (a
    dead sink would fail only when something needs the operator). Named without secrets."""
    from agent_orchestrator.doors import notify

    sinks = config.notify.sinks if config.notify else ()
    checks = []
    for sink in sinks:
        problem = notify.probe(sink)
        checks.append(Check(f"notify {notify.shown(sink)}", "warn" if problem else "ok",
                            problem or ("reachable" if sink.kind == "webhook" else "found")))
    return checks


def run(config_path: Path) -> list[Check]:
    """All checks for the config at `config_path` (which may not exist)."""
    checks = [check_tmux(Tmux())]
    git = shutil.which("git")
    checks.append(Check("git", "ok" if git else "warn",
                        git or "not found (needed by the loop's git handoff)"))
    if not config_path.exists():
        checks.append(Check("config", "warn", f"no config at {config_path} "
                            "(`agents init` writes one)"))
        return checks + check_clis(set(), {})
    try:
        config = config_mod.load(config_path)
    except config_mod.ConfigError as exc:
        checks.append(Check("config", "fail", f"{len(exc.problems)} problem(s); "
                            "run `agents check`"))
        return checks + check_clis(set(), {})
    checks.append(Check("config", "ok", f"{config.path}: {len(config.agents)} agents"))
    used = {a.backend for a in config.agents if a.enabled and a.host is None}
    checks += check_clis(used, {b.name: b.bin for b in config.backends if b.name in used},
                         frozenset(b.name for b in config.backends if runs_a_shell(b)))
    checks += check_folders(config)
    checks += check_sinks(config)
    if config.hosts:  # the other machines, one ssh probe each
        from agent_orchestrator.cli.doctorhosts import check_hosts

        checks += check_hosts(config)
    pid = lock.watchdog_pid(config)
    checks.append(Check("watchdog", "ok" if pid else "info",
                        f"running (pid {pid})" if pid else "not running (`agents up`)"))
    return checks + check_fd_limits(config, Tmux(config.tmux_socket))


def check_fd_limits(config: config_mod.Config, tmux: Tmux) -> list[Check]:
    """The open-file limits of the watchdog (a pidfd per agent) and of the tmux server (two
    descriptors per session) against this fleet's size (doors/fdlimit.py); `agents up`
    prints the warnings too. A server or watchdog not running yet is judged by the limit
    it will inherit from us: our soft one, raised to the hard one."""
    agents = sum(a.enabled for a in config.agents)
    sessions = agents + len(config.services) + 1  # the watchdog's own session
    ours = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], fdlimit.SOFT_CAP)
    try:  # a live pane's parent is the server (a remote one's limit is not ours to read)
        live = [p.pid for p in tmux.snapshot().panes.values() if not p.dead and p.pid > 0]
        server = proctree.parent(live[0]) if live and tmux.remote is None else None
    except TmuxError:
        server = None
    checks = []
    for name, pid, need, effect in (
            ("tmux server", server, fdlimit.server_need(sessions),
             "its sessions fail to start past about {} agents"),
            ("watchdog", lock.watchdog_pid(config), fdlimit.watchdog_need(agents),
             "agents past about {} get no pidfd and are polled every second")):
        limit = (fdlimit.process_limit(pid) if pid else None) or ours
        where = f"pid {pid}" if pid else "when started by `agents up`"
        if limit >= need:
            checks.append(Check(f"open files, {name}", "ok", f"limit {limit} ({where}); "
                                f"this fleet needs about {need}"))
            continue
        fits = (limit - fdlimit.SERVER_MARGIN) // fdlimit.PER_PANE if name == "tmux server" \
            else limit - fdlimit.RESERVE - fdlimit.WATCHDOG_OWN
        checks.append(Check(f"open files, {name}", "warn", f"limit {limit} ({where}) but "
                            f"this fleet needs about {need}: "
                            f"{effect.format(max(fits, 0))}; raise `ulimit -n` (hard) and "
                            "start it again (`agents down`, `agents up`)"))
    return checks
