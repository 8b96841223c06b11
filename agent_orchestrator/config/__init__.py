"""agents.toml → frozen dataclasses (SPEC §1): the config layer's public names.

`load(path)` (loader.py) returns a whole, valid `Config` (model.py) or raises `ConfigError`
listing every problem as `agents.toml:LINE: key: message`. The other modules: builder.py
checks table by table, tables.py and schema.py say what each key accepts, presets.py holds
the built-in backends, templates.py fills command templates, filetrust.py judges files,
tomlpos.py finds a key's line, userregex.py compiles regexes for RE2.
"""

from __future__ import annotations

from agent_orchestrator.config.loader import ConfigError, builtin_backend, content_digest, load
from agent_orchestrator.config.model import (
    BOOT_LINE,
    DELIVERIES,
    KINDS,
    WATCH_MODES,
    WATCHDOG_NAME,
    Agent,
    Backend,
    Config,
    Handoff,
    Loop,
    OnComplete,
    Phase,
    Service,
    Tasks,
    Wake,
    WatchdogSettings,
)
from agent_orchestrator.config.presets import PRESETS
from agent_orchestrator.config.userregex import UserRegex

__all__ = [
    "BOOT_LINE", "DELIVERIES", "KINDS", "PRESETS", "WATCHDOG_NAME", "WATCH_MODES", "Agent",
    "Backend", "Config", "ConfigError", "Handoff", "Loop", "OnComplete", "Phase", "Service",
    "Tasks", "UserRegex", "Wake", "WatchdogSettings", "builtin_backend", "content_digest", "load",
]
