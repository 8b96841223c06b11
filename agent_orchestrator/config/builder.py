"""Checks a parsed agents.toml table by table and builds the Config, collecting every problem.

Presets are merged under the user's `[backend.*]` tables before checking (so they are checked
like user input), `[defaults]` fill each agent, `AGENT_MODEL_<name>` / `AGENT_BACKEND_<name>`
overrides apply, paths resolve against the project root and every prompt file must exist and
be trustworthy (filetrust.py). Names, sessions and cross-references are checked last.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent_orchestrator.config import filetrust, model, steering
from agent_orchestrator.config.hosts import build_hosts, check_agent_hosts, path_on_host
from agent_orchestrator.config.presets import PRESETS, SKIP_PERMISSIONS
from agent_orchestrator.config.schema import NAME_RE, Problems, check_table, dotted
from agent_orchestrator.config.tables import (
    AGENT,
    BACKEND,
    DEFAULTS,
    HANDOFF,
    LOOP,
    ON_COMPLETE,
    PHASE,
    SERVICE,
    TASKS,
    TOP,
    WAKE,
    WATCHDOG,
)
from agent_orchestrator.config.templates import TemplateError, check_shell_template, split_words
from agent_orchestrator.config.tomlpos import KeyLines


class Builder:
    """Turns the raw dict into a Config, recording every problem on the way."""

    def __init__(self, path: Path, lines: KeyLines, env: Mapping[str, str]) -> None:
        self.path = path.resolve()
        self.problems = Problems(lines)
        self.warnings = Problems(lines)
        self.env = env
        self.root = self.path.parent

    def _on_host(self, value: str | Path, where: tuple[Any, ...], label: str) -> Path:
        return path_on_host(value, where, label, self.problems)

    def build(self, raw: dict[str, Any]) -> model.Config | None:
        top = check_table(raw, TOP, (), self.problems)
        raw_defaults = top.get("defaults") or {}
        defaults = check_table(raw_defaults, DEFAULTS, ("defaults",), self.problems)
        # Only valid agent keys flow into agents: a bad default is reported once, at its line.
        flawed = {p.key for p in self.problems.items}
        agent_defaults = {k: v for k, v in raw_defaults.items()
                          if k in AGENT and f"defaults.{k}" not in flawed}
        if defaults.get("project_dir"):
            self.root = self._path(defaults["project_dir"], self.path.parent,
                                   ("defaults", "project_dir"))
        prefix = defaults.get("session_prefix")
        if isinstance(prefix, str) and prefix and not re.fullmatch(r"[A-Za-z0-9][\w-]*", prefix):
            self.problems.add(("defaults", "session_prefix"),
                              "may hold only letters, digits, '-' and '_' (tmux rewrites "
                              "other characters in session names)")
            prefix = None
        watchdog = model.WatchdogSettings(**check_table(top.get("watchdog", {}), WATCHDOG,
                                                        ("watchdog",), self.problems))
        backends = self._backends(top.get("backend", {}))
        hosts = build_hosts(top.get("host", {}), self.problems, self.root)
        agents = self._agents(top.get("agent", []), agent_defaults, prefix or "",
                              {b.name: b for b in backends})
        services = self._services(top.get("service", []), prefix or "")
        loop = self._loop(top["loop"], agents) if "loop" in top and top["loop"] else None
        self._check_names(agents, services, prefix or "")
        declared = top.get("host") if isinstance(top.get("host"), dict) else {}
        check_agent_hosts(declared, agents, self.problems)
        notify = steering.notify(top.get("notify"), self.problems)
        mcp = steering.mcp(top.get("mcp"), self.problems)
        tasks = self._tasks(top.get("tasks", {}), defaults.get("backend") or next(
            (a.backend for a in agents), None), {b.name for b in backends})
        if self.problems.items or prefix is None or not defaults.get("log_dir"):
            return None
        log_dir = self._path(defaults["log_dir"], where=("defaults", "log_dir"))
        if (unsafe := filetrust.log_dir_problem(log_dir)) is not None:
            self.problems.add(("defaults", "log_dir"), unsafe)
            return None
        return model.Config(
            path=self.path, project_dir=self.root, session_prefix=prefix, log_dir=log_dir,
            tmux_socket=defaults.get("tmux_socket"),
            watchdog=watchdog, backends=backends, agents=agents, services=services,
            hosts=hosts, loop=loop, tasks=tasks, log_max_bytes=defaults["log_max_bytes"],
            log_keep=defaults["log_keep"], notify=notify, mcp=mcp)

    def _tasks(self, raw: Any, fallback: str | None, backends: set[str]) -> model.Tasks:
        """`[tasks]`; its backend defaults to `[defaults]`' one, else the first agent's."""
        values = check_table(raw, TASKS, ("tasks",), self.problems)
        values["backend"] = values.get("backend") or fallback
        if values["backend"] is not None and values["backend"] not in backends:
            self.problems.add(("tasks", "backend"), f"unknown backend {values['backend']!r}")
        return model.Tasks(**values)

    def _path(self, value: str | Path, base: Path | None = None,
              where: tuple[Any, ...] = (), label: str | None = None) -> Path:
        """`value` made absolute (`~` expanded, symlinks resolved); a path that cannot be
        (an unknown `~user`, a symlink loop, a name too long) is a problem at its line."""
        try:
            return ((base or self.root) / Path(value).expanduser()).resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.problems.add(where, f"unusable path {str(value)[:200]!r}: {why}", label=label)
            return (base or self.root) / Path(value)

    def _file(self, value: str, where: tuple[Any, ...], label: str | None = None) -> Path:
        """A prompt file: it must exist and be trustworthy (filetrust.py)."""
        count = len(self.problems.items)
        resolved = self._path(value, where=where, label=label)
        if len(self.problems.items) > count:
            return resolved
        unresolved = (self.root / Path(value).expanduser())
        try:
            exists = resolved.exists()
        except OSError as exc:
            self.problems.add(where, f"cannot use {value[:200]!r}: {exc.strerror}", label=label)
            return resolved
        if not exists:  # a FIFO or device exists: judged below (not regular)
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

    def _backends(self, raw: Any) -> tuple[model.Backend, ...]:
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
            values = check_table(merged, BACKEND, ("backend", name), self.problems)
            self._check_templates(name, values)
            if "bin" in values:
                out.append(model.Backend(name=name, **values))
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
        shell_checks = [("attach", ("dir", "session", "model", "kickoff", "kickoff_file")),
                        ("preamble", ())]
        if values.get("prompt_delivery") == "exec":
            shell_checks.append(("bin", ("kickoff", "kickoff_file", "kickoff_text", "session",
                                         "model", "dir", "id")))
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
                backends: dict[str, model.Backend]) -> tuple[model.Agent, ...]:
        if not isinstance(raw, list):
            return ()
        out = []
        for index, entry in enumerate(raw):
            where = ("agent", index)
            merged = defaults | entry if isinstance(entry, dict) else entry
            known = entry.get("name") if isinstance(entry, dict) else None
            label = f"agent.{known}" if type(known) is str and NAME_RE.fullmatch(known) else None
            values = check_table(merged, AGENT, where, self.problems, label)
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
            if values["mcp"]:
                steering.agent_mcp(backend, backends, where + ("mcp",), f"agent.{name}.mcp",
                                   self.problems)
            if values.get("kind") == "loop" and not values.get("role"):
                self.problems.add(where, "a loop agent needs a 'role'", label=f"agent.{name}")
            prompt_file = values.get("prompt_file")
            host = values.get("host")
            # On another host, its folder and files are that host's: not looked at here.
            file = self._file if host is None else self._on_host
            wake = self._wake(values.get("wake"), where + ("wake",), f"agent.{name}.wake", file)
            out.append(model.Agent(
                name=name, session=values.get("session") or prefix + name,
                backend=backend, kind=values["kind"], model=values.get("model"),
                role=values.get("role"), prompt=values.get("prompt"),
                prompt_file=file(prompt_file, where + ("prompt_file",),
                                 f"agent.{name}.prompt_file") if prompt_file else None,
                dir=(self._path if host is None else self._on_host)(
                    values["dir"], where=where + ("dir",), label=f"agent.{name}.dir"),
                enabled=values["enabled"], watch=values["watch"], resume=values["resume"],
                wake=wake, host=host, worktree=values["worktree"], mcp=values["mcp"]))
        return tuple(out)

    def _wake(self, raw: Any, where: tuple[Any, ...], label: str,
              file: Callable[[str, tuple[Any, ...], str], Path]) -> model.Wake | None:
        if raw is None:
            return None
        values = check_table(raw, WAKE, where, self.problems, label)
        if "interval" not in values or "prompt_file" not in values:
            return None
        return model.Wake(values["interval"], file(values["prompt_file"],
                                                   where + ("prompt_file",),
                                                   f"{label}.prompt_file"))


    def _services(self, raw: Any, prefix: str) -> tuple[model.Service, ...]:
        if not isinstance(raw, list):
            return ()
        out = []
        for index, entry in enumerate(raw):
            values = check_table(entry, SERVICE, ("service", index), self.problems)
            if "name" in values and "command" in values:
                out.append(model.Service(
                    values["name"], values.get("session") or prefix + values["name"],
                    values["command"], self._path(values["dir"], where=("service", index, "dir"))))
        return tuple(out)

    def _check_names(self, agents: tuple[model.Agent, ...],
                     services: tuple[model.Service, ...], prefix: str) -> None:
        seen_names: dict[str, str] = {}
        seen_sessions: dict[str, str] = {prefix + model.WATCHDOG_NAME: "the watchdog",
                                         prefix + model.CONTROL_NAME: "the watchdog"}
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
            if name.lower().startswith(model.TASK_AGENT_PREFIX):
                self.problems.add(where + ("name",), f"names starting with "
                                  f"'{model.TASK_AGENT_PREFIX}' are kept for queued tasks "
                                  "(`agents submit`): pick another", label=f"{kind}.{name}")
            if (owner := seen_sessions.get(session.lower())) is not None:
                self.problems.add(where, f"session name '{session}' is already used by "
                                  f"{owner}", label=f"{kind}.{name}.session")
            seen_sessions.setdefault(session.lower(), f"{kind} '{name}'")

    # -- loop

    def _loop(self, raw: Any, agents: tuple[model.Agent, ...]) -> model.Loop | None:
        values = check_table(raw, LOOP, ("loop",), self.problems)
        phases = []
        for index, entry in enumerate(values["phases"]):
            pv = check_table(entry, PHASE, ("loop", "phases", index), self.problems)
            if "id" in pv and "status" in pv:
                phases.append(model.Phase(**pv))
        ids = [p.id for p in phases]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            self.problems.add(("loop", "phases"), f"duplicate phase id '{dup}'")
        roles_dir = self._path(values["roles_dir"], where=("loop", "roles_dir"))
        for index, agent in enumerate(agents):
            if agent.kind == "loop" and agent.role:
                self._file(str(roles_dir / f"{agent.role}.md"), ("agent", index, "role"),
                           f"agent.{agent.name}.role")
        kickoff = values.get("kickoff_template")
        handoff = self._handoff(values.get("handoff"), agents)
        on_complete = None
        if values.get("on_complete") is not None:
            oc = check_table(values["on_complete"], ON_COMPLETE, ("loop", "on_complete"),
                             self.problems)
            if "run" in oc:
                if not any(a.name == oc["run"] for a in agents):
                    self.problems.add(("loop", "on_complete", "run"),
                                      f"no agent named '{oc['run']}'")
                on_complete = model.OnComplete(**oc)
        return model.Loop(
            phases=tuple(phases), state_file=values["state_file"],
            done_marker=values["done_marker"],
            kickoff_template=self._file(kickoff, ("loop", "kickoff_template"))
            if kickoff else None,
            roles_dir=roles_dir, auto_advance=values["auto_advance"],
            resume_phase=values["resume_phase"], handoff=handoff,
            on_complete=on_complete)

    def _handoff(self, raw: Any, agents: tuple[model.Agent, ...]) -> model.Handoff | None:
        if raw is None:
            return None
        where = ("loop", "handoff")
        values = check_table(raw, HANDOFF, where, self.problems)
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
        values["repo"] = self._path(values["repo"], where=where + ("repo",))
        return model.Handoff(**values)
