"""`load(path)`: agents.toml → a whole, valid Config, or a ConfigError listing every problem.

Errors read `agents.toml:LINE: key: message`; a half-valid config is never returned and
nothing past this package sees a raw dict. The config file must be trustworthy (filetrust.py:
ours or root's, not world-writable); a group-writable file or prompt file is accepted with a
warning, kept in `Config.warnings` and logged (on stderr for the CLI).
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from agent_orchestrator.config import filetrust
from agent_orchestrator.config.builder import Builder
from agent_orchestrator.config.model import Backend, Config
from agent_orchestrator.config.presets import PRESETS
from agent_orchestrator.config.schema import Problem, Problems, check_table
from agent_orchestrator.config.tables import BACKEND
from agent_orchestrator.config.tomlpos import KeyLines

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """The config file cannot be used; `problems` lists every reason found. `digest` names
    the content that was rejected (content_digest), when it could be read."""

    def __init__(self, filename: str, problems: list[Problem], digest: str | None = None) -> None:
        self.filename = filename
        self.problems = problems
        self.digest = digest
        super().__init__("\n".join(p.render(filename) for p in problems))


def builtin_backend(name: str) -> Backend:
    """A preset as a Backend with no config file (for `explain --backend` and selftest).
    Raises KeyError for an unknown name."""
    problems = Problems(KeyLines(""))
    values = check_table(PRESETS[name], BACKEND, ("backend", name), problems)
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
    encoding = _not_utf8(data)
    text = data.decode("utf-8", errors="replace")  # read on, to report every problem
    try:
        raw = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(shown, [Problem(None, "", "TOML nested too deeply (arrays or inline "
                                          "tables inside each other)")],
                          content_digest(data)) from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(m.group(1)) if m else None
        where = f"TOML syntax error at column {m.group(2)}: " if m else "TOML syntax error: "
        raise ConfigError(shown, [*encoding, Problem(line, "", where + message)],
                          content_digest(data)) from None
    builder = Builder(path, KeyLines(text), env or {})
    try:
        config = builder.build(raw)
    except Exception as exc:  # noqa: BLE001
        # A last net: the builder reports what it knows at its line; anything else it meets
        # (a file system oddity, a bug of ours) still rejects the edit rather than killing
        # a watchdog or showing the operator a traceback.
        raise ConfigError(shown, [*encoding, *builder.problems.items, Problem(
            None, "", f"cannot load: {type(exc).__name__}: {exc}")],
            content_digest(data)) from None
    if builder.problems.items or encoding:
        raise ConfigError(shown, sorted([*encoding, *builder.problems.items],
                                        key=lambda p: p.line or 0),
                          content_digest(data))
    assert config is not None
    warnings = ([f"{shown}: {first_warning}"] if first_warning else []) + [
        p.render(shown) for p in builder.warnings.items]
    for warning in warnings:
        log.warning("agents: warning: %s", warning)
    return replace(config, digest=content_digest(data), warnings=tuple(warnings), source=data)


def _not_utf8(data: bytes) -> list[Problem]:
    """Where the first byte that is not UTF-8 is (TOML files are UTF-8, never guessed)."""
    try:
        data.decode("utf-8")
        return []
    except UnicodeDecodeError as exc:
        start = exc.start
    line_start = data.rfind(b"\n", 0, start) + 1
    return [Problem(data.count(b"\n", 0, start) + 1, "", f"not valid UTF-8 at byte "
                    f"{start - line_start + 1} of the line (save the file as UTF-8)")]


def content_digest(data: bytes) -> str:
    """How a version of the config file is named in events and status: 12 hex digits."""
    return hashlib.sha256(data).hexdigest()[:12]
