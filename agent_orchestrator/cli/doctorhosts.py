"""`agents doctor` for the other machines of a fleet: one probe per `[host.NAME]`.

Each host is asked once over ssh (doors/hostprobe.py): reachable, tmux there and its
version, our package under the host's `python` (the boot step and the launch helper run
it), the programs its agents' backends start, and its clock's offset from this machine's
(a usage limit's reset time is read on that host's screen).
"""

from __future__ import annotations

import re

from agent_orchestrator import __version__
from agent_orchestrator.cli.doctor import MIN_TMUX, Check, runs_a_shell
from agent_orchestrator.config import Config
from agent_orchestrator.config.templates import command_word
from agent_orchestrator.doors import hostprobe
from agent_orchestrator.doors.ssh import Connection
from agent_orchestrator.runtime import hostfleet
from agent_orchestrator.runtime.remotelaunch import target_of

CLOCK_WARN = 5.0  # seconds of offset that move a limit hold noticeably


def programs_on(config: Config, host: str) -> list[str]:
    """The programs the enabled agents placed on `host` start (templates.command_word)."""
    found: list[str] = []
    python = next(h.python for h in config.hosts if h.name == host)
    for agent in config.agents:
        if agent.host != host or not agent.enabled:
            continue
        backend = config.backend(agent.backend)
        word = command_word(backend.bin, runs_a_shell(backend), python)
        if word is not None and word not in found:
            found.append(word)
    return found


def check_hosts(config: Config) -> list[Check]:
    checks: list[Check] = []
    for host in config.hosts:
        connection = Connection(target_of(host), hostfleet.control_dir(config, verb=True))
        try:
            report = hostprobe.probe(connection, host.python, programs_on(config, host.name))
        finally:
            connection.close()
        checks += judge(host.name, host.ssh, host.python, report)
    return checks


def judge(name: str, destination: str, python: str,
          report: hostprobe.HostReport) -> list[Check]:
    """The report's lines: reachable, tmux, our package, programs, clock."""
    label = f"host {name}"
    if report.error is not None:
        return [Check(label, "fail", report.error)]
    checks = [Check(label, "ok", f"reachable (ssh {destination})")]
    version = (report.tmux or "").removeprefix("tmux ").strip()
    found = re.match(r"(\d+)\.(\d+)", version)
    if not version:
        checks.append(Check(f"{label} tmux", "fail", "not installed there"))
    elif found and (int(found.group(1)), int(found.group(2))) < MIN_TMUX:
        checks.append(Check(f"{label} tmux", "fail", f"tmux {version} is too old: "
                            f"{MIN_TMUX[0]}.{MIN_TMUX[1]} or newer is needed"))
    else:
        checks.append(Check(f"{label} tmux", "ok", f"tmux {version}"))
    if report.package is None:
        checks.append(Check(f"{label} agent_orchestrator", "fail", f"not importable by "
                            f"{python} there: install it (pip install agent-orchestrator) "
                            "or set `python` in the host's table"))
    else:
        same = report.package == __version__
        checks.append(Check(f"{label} agent_orchestrator", "ok" if same else "warn",
                            f"{report.package}" + ("" if same else
                                                   f" (this machine: {__version__})")))
    checks.append(Check(f"{label} programs", "fail" if report.missing else "ok",
                        f"missing there: {', '.join(report.missing)}" if report.missing
                        else "every agent's program found"))
    if report.clock_offset is None:
        checks.append(Check(f"{label} clock", "info", "offset unknown (no GNU date there)"))
    else:
        off, err = report.clock_offset, report.clock_error or 0.0
        checks.append(Check(f"{label} clock", "warn" if abs(off) - err > CLOCK_WARN else "ok",
                            f"{off:+.3f}s from this machine (± {err:.3f}s)"))
    return checks
