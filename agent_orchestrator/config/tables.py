"""Every agents.toml table as a dict of `Field`s: each key's kind, range and choices.

A key that a dataclass of model.py also holds takes its default from that dataclass field
(`modelled`), so no default is written twice; a key whose field has none (`tmux_socket`)
loads as None when missing. Only the top-level tables, which no dataclass holds, state their
defaults here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from agent_orchestrator.config import model
from agent_orchestrator.config.schema import Field


def modelled(cls: type, table: Mapping[str, Field]) -> dict[str, Field]:
    """`table` with each optional key's default taken from the field of that name of `cls`,
    a dataclass of model.py.

    Raises TypeError when the table states a default of its own for such a key: that would
    be the same fact written twice, free to drift."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)
                if f.default is not dataclasses.MISSING}
    out = {}
    for key, spec in table.items():
        if key in defaults and not spec.required:
            if spec.default is not None:
                raise TypeError(f"{cls.__name__}.{key}: default stated twice")
            spec = dataclasses.replace(spec, default=defaults[key])
        out[key] = spec
    return out


DEFAULTS_OWN = modelled(model.Config, {
    "session_prefix": Field("str", required=True),
    "log_dir": Field("nonempty", required=True),
    "project_dir": Field("nonempty"),
    "tmux_socket": Field("name"),
    "log_max_bytes": Field("int", minimum=4096),
    "log_keep": Field("int", minimum=1),
})
AGENT = modelled(model.Agent, {
    "name": Field("name", required=True),
    "kind": Field("choice", choices=model.KINDS),
    "backend": Field("nonempty"),
    "model": Field("nonempty"),  # "" would silently mean "the CLI's default model"
    "role": Field("name"),
    "prompt": Field("str"),
    "prompt_file": Field("nonempty"),
    "dir": Field("nonempty"),
    "session": Field("name"),
    "enabled": Field("bool"),
    "watch": Field("choice", choices=model.WATCH_MODES),
    "resume": Field("bool"),
    "wake": Field("table"),
    "host": Field("name"),
    "worktree": Field("bool"),
    "mcp": Field("bool"),
})
# Any agent key except its identity may be defaulted in [defaults].
DEFAULTS = DEFAULTS_OWN | {k: v for k, v in AGENT.items() if k not in ("name", "session")}
WAKE = modelled(model.Wake, {"interval": Field("number", required=True, minimum=1),
                             "prompt_file": Field("nonempty", required=True)})
WATCHDOG = modelled(model.WatchdogSettings, {
    "signal_interval": Field("number", minimum=0.1),
    "heavy_interval": Field("number", minimum=0.1),
    "stall_grace": Field("number"),
    "limit_probe_fallback": Field("number", minimum=1),
    "limit_reset_slack": Field("number"),
    "restart_backoff": Field("number"),
    "restart_backoff_max": Field("number"),
    "crash_window": Field("number", minimum=1),
    "crash_limit": Field("int", minimum=1),
    "fleet_restart_limit": Field("int", minimum=1),
    "restart_stable": Field("number"),
})
BACKEND = modelled(model.Backend, {
    "bin": Field("nonempty", required=True),
    "prompt_delivery": Field("choice", choices=model.DELIVERIES),
    "flags": Field("str"),
    "model_flag": Field("str"),
    "supports_resume": Field("bool"),
    "resume_flag": Field("str"),
    "session_id_flag": Field("str"),
    "continue_flag": Field("str"),
    "skip_permissions": Field("bool"),
    "remote_control": Field("bool"),
    "remote_control_flag": Field("str"),
    "preamble": Field("str"),
    "attach": Field("str"),
    "server": Field("str"),
    "connect_delay": Field("number"),
    "submit_key": Field("nonempty"),
    "model_env": Field("model_env"),
    "process_name": Field("nonempty"),
    "active_re": Field("regex"),
    "limit_re": Field("regex"),
    "fatal_re": Field("regex"),
    "prompt_re": Field("regex"),
    "auto_resume_re": Field("regex"),
    "resumed_re": Field("regex"),
    "footer_ui": Field("bool"),
    "log_grace": Field("number"),
    "stall_idle": Field("number", minimum=1),
    "message_gutter": Field("str"),
    "boot_line": Field("nonempty"),
    "signals": Field("choice", choices=("", *model.SIGNAL_SOURCES)),
})
SERVICE = modelled(model.Service, {
    "name": Field("name", required=True),
    "command": Field("nonempty", required=True),
    "dir": Field("nonempty"),
    "session": Field("name"),
})
PHASE = modelled(model.Phase, {
    "id": Field("nonempty", required=True),
    "status": Field("nonempty", required=True),
    "plan": Field("str"),
    "models": Field("strmap"),
    "verify": Field("strlist"),
})
HANDOFF = modelled(model.Handoff, {
    "repo": Field("nonempty", required=True),
    "state_subdir": Field("str"),
    "claim_pattern": Field("regex"),
    "review_pattern": Field("regex"),
    "claim_pings": Field("name"),
    "review_pings": Field("name"),
    "inboxes": Field("strlist"),
})
ON_COMPLETE = modelled(model.OnComplete, {"run": Field("name", required=True),
                                          "trigger_file": Field("nonempty")})
LOOP = modelled(model.Loop, {
    "phases": Field("list"),
    "state_file": Field("name"),
    "done_marker": Field("nonempty"),
    "kickoff_template": Field("nonempty"),
    "roles_dir": Field("nonempty"),
    "auto_advance": Field("bool"),
    "resume_phase": Field("bool"),
    "handoff": Field("table"),
    "on_complete": Field("table"),
})
TASKS = modelled(model.Tasks, {
    "max_parallel": Field("int", minimum=1),
    "backend": Field("name"),
    "model": Field("nonempty"),
    "worktree": Field("bool"),
    "base": Field("nonempty"),
    "keep_worktrees": Field("bool"),
})
NOTIFY = modelled(model.Notify, {
    "on": Field("strlist"),
    "sink": Field("list", []),
    "min_gap": Field("number"),
    "attempts": Field("int", minimum=1),
    "backoff": Field("number"),
    "timeout": Field("number", minimum=0.1),
})
SINK = modelled(model.NotifySink, {
    "kind": Field("choice", required=True, choices=model.SINK_KINDS),
    "url": Field("nonempty"),
    "format": Field("choice", choices=model.SINK_FORMATS),
    "headers": Field("strmap"),
    "argv": Field("strlist"),
})
MCP = modelled(model.Mcp, {"allow": Field("strlist")})
TOP = {"defaults": Field("table", required=True), "watchdog": Field("table", {}),
       "backend": Field("table", {}), "agent": Field("list", []),
       "service": Field("list", []), "loop": Field("table"), "notify": Field("table"),
       "mcp": Field("table"), "tasks": Field("table", {}),
       "host": Field("table", {})}
