"""agents.toml → Config (SPEC §1): what a valid file loads to, and what every mistake says.

Every config is written into tmp_path. Error tests compare the whole `FILE:LINE: key: message`
output; a line is given by a needle that must occur on exactly one line of the file, so the
tables read as "this problem is reported on the line that says ...".
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import write_project as write

from agent_orchestrator.config import (
    Agent,
    Backend,
    Config,
    ConfigError,
    Handoff,
    Loop,
    OnComplete,
    Phase,
    Service,
    Wake,
    WatchdogSettings,
    load,
    tables,
)
from agent_orchestrator.config.presets import PRESETS
from agent_orchestrator.config.schema import NAME_RULE, Field
from agent_orchestrator.config.userregex import UserRegex

HEAD = """\
[defaults]
session_prefix = "t-"
log_dir = "logs"
backend = "demo"
"""
TOOL = """
[backend.tool]
bin = "tool"
"""


# ----------------------------------------------------------------------------- helpers


def cfg(body: str = "", head: str = HEAD) -> str:
    """A config text: `head` (a valid [defaults]) followed by the dedented `body`."""
    return head + textwrap.dedent(body)


def line_of(text: str, needle: str) -> int:
    """The 1-based number of the one line of `text` containing `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"needle {needle!r} is on lines {hits}, expected exactly one"
    return hits[0]


def errors(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(path, env)
    return info.value


Row = tuple[str | None, str, str]  # (needle of the line or None, key, message)


def rendered(path: Path, text: str, rows: list[Row]) -> list[str]:
    """The expected `FILE:LINE: key: message` lines; `<root>` in a message is the folder."""
    out = []
    for needle, key, message in rows:
        where = f"{path}:{line_of(text, needle)}" if needle else str(path)
        out.append(f"{where}: {key}: {message.replace('<root>', str(path.parent))}")
    return out


def load_ok(tmp_path: Path, body: str = "", files: tuple[str, ...] = (),
            env: dict[str, str] | None = None, head: str = HEAD) -> Config:
    return load(write(tmp_path, cfg(body, head), files), env)


# ----------------------------------------------------------------------------- valid configs

FULL = """
[defaults]
session_prefix = "t-"
log_dir = "logs"
backend = "demo"
watch = "heal"
model = "small"
dir = "work"

[watchdog]
signal_interval = 5
crash_limit = 3

[backend.demo]
flags = "--busy 5"

[backend.tool]
bin = "tool"
prompt_delivery = "ping"
connect_delay = 2.5

[[agent]]
name = "alpha"
prompt = "Do the thing."

[[agent]]
name = "beta"
backend = "tool"
kind = "task"
model = "large"
watch = "none"
dir = "elsewhere"
session = "custom-beta"
enabled = false
resume = true
prompt_file = "prompts/beta.md"
wake = { interval = 60, prompt_file = "prompts/wake.md" }
"""
FULL_FILES = ("prompts/beta.md", "prompts/wake.md")


@pytest.fixture
def full(tmp_path: Path) -> Config:
    return load(write(tmp_path / "proj", FULL, FULL_FILES))


def test_full_config_loads_to_exact_agents(full: Config, tmp_path: Path) -> None:
    root = (tmp_path / "proj").resolve()
    assert full.agents == (
        Agent(name="alpha", session="t-alpha", backend="demo", kind="persistent",
              model="small", role=None, prompt="Do the thing.", prompt_file=None,
              dir=root / "work", enabled=True, watch="heal", resume=False, wake=None),
        Agent(name="beta", session="custom-beta", backend="tool", kind="task",
              model="large", role=None, prompt=None, prompt_file=root / "prompts/beta.md",
              dir=root / "elsewhere", enabled=False, watch="none", resume=True,
              wake=Wake(interval=60.0, prompt_file=root / "prompts/wake.md")),
    )


def test_full_config_top_level_values(full: Config, tmp_path: Path) -> None:
    root = (tmp_path / "proj").resolve()
    assert full.path == root / "agents.toml"
    assert full.project_dir == root
    assert full.session_prefix == "t-"
    assert full.log_dir == root / "logs"
    assert full.state_dir == root / "logs" / "state"
    assert full.watchdog_session == "t-watchdog"
    assert full.tmux_socket is None
    assert full.services == ()
    assert full.loop is None
    assert full.agent("beta") is full.agents[1]
    assert full.agent("nobody") is None


def test_watchdog_settings_given_and_defaulted(full: Config) -> None:
    assert full.watchdog == WatchdogSettings(signal_interval=5.0, crash_limit=3)
    assert full.watchdog.heavy_interval == 300
    assert full.watchdog.stall_grace == 180
    assert full.watchdog.fleet_restart_limit == 10


# Each key table of tables.py against the dataclass holding its values.
MODELLED = [(tables.DEFAULTS_OWN, Config), (tables.AGENT, Agent), (tables.WAKE, Wake),
            (tables.WATCHDOG, WatchdogSettings), (tables.BACKEND, Backend),
            (tables.SERVICE, Service), (tables.PHASE, Phase), (tables.HANDOFF, Handoff),
            (tables.ON_COMPLETE, OnComplete), (tables.LOOP, Loop)]


@pytest.mark.parametrize(("table", "model"), MODELLED, ids=[m.__name__ for _, m in MODELLED])
def test_each_default_is_its_dataclass_fields(table: dict[str, Field], model: type) -> None:
    """A default lives once: what a missing key loads to is the dataclass field's default."""
    defaults = {f.name: f.default for f in dataclasses.fields(model)
                if f.default is not dataclasses.MISSING}
    names = {f.name for f in dataclasses.fields(model)}
    for key, spec in table.items():
        if not spec.required:
            assert key in names, f"{key}: no field {model.__name__}.{key}"
            # A field without a default (Config.tmux_socket) loads a missing key as None.
            assert spec.default == defaults.get(key), f"{model.__name__}.{key}"


def test_a_default_stated_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="Backend.connect_delay: default stated twice"):
        tables.modelled(Backend, {"connect_delay": Field("number", 12)})


def test_missing_keys_load_to_the_dataclass_defaults(tmp_path: Path) -> None:
    config = load_ok(tmp_path, TOOL + '[[agent]]\nname = "a"\n'
                     '[[service]]\nname = "s"\ncommand = "true"\n')
    assert config.watchdog == WatchdogSettings()
    assert config.backend("tool") == Backend(name="tool", bin="tool")
    assert config.agents[0] == Agent(name="a", session="t-a", backend="demo",
                                     dir=tmp_path.resolve())
    assert config.services[0] == Service("s", "t-s", "true", tmp_path.resolve())
    assert (config.log_max_bytes, config.log_keep) == (20_000_000, 1)


def test_user_backend_gets_defaults(full: Config) -> None:
    tool = full.backend("tool")
    assert tool == Backend(name="tool", bin="tool", prompt_delivery="ping", connect_delay=2.5)
    assert tool.model_flag == "--model '{model}'"
    assert tool.attach == "{bin}"
    assert tool.active_re is None


def test_every_preset_is_declared_without_a_table(tmp_path: Path) -> None:
    config = load_ok(tmp_path, '[[agent]]\nname = "a"\n')
    assert sorted(b.name for b in config.backends) == sorted(PRESETS)


def test_demo_preset_works_without_a_backend_table(tmp_path: Path) -> None:
    config = load_ok(tmp_path, '[[agent]]\nname = "a"\n')
    demo = config.backend("demo")
    assert config.agents[0].backend == "demo"
    assert demo.bin == "{python} -m agent_orchestrator.fakeagent"
    assert demo.flags == ""
    assert demo.supports_resume is True
    assert demo.process_name == "python"
    assert demo.active_re is not None and demo.active_re.pattern == "esc to interrupt"
    # compiled case-insensitive and multi-line
    assert demo.active_re.search("spinner\n  ESC TO INTERRUPT")
    assert demo.limit_re is not None and demo.limit_re.search("You've hit your weekly limit")


def test_user_table_overrides_single_preset_keys(full: Config) -> None:
    demo = full.backend("demo")
    assert demo.flags == "--busy 5"  # the user's key
    # every other key is still the preset's
    assert demo.bin == PRESETS["demo"]["bin"]
    assert demo.process_name == "python"
    assert isinstance(demo.active_re, UserRegex)
    assert demo.active_re.pattern == PRESETS["demo"]["active_re"]
    assert demo.active_re.search("x\nESC TO INTERRUPT")  # case-insensitive, any line
    assert demo.prompt_re is not None and demo.prompt_re.search("Do you want to proceed?")


def test_user_table_can_override_a_preset_regex(tmp_path: Path) -> None:
    config = load_ok(tmp_path, '[backend.demo]\nactive_re = "thinking"\n[[agent]]\nname = "a"\n')
    demo = config.backend("demo")
    assert demo.active_re is not None and demo.active_re.pattern == "thinking"
    assert demo.limit_re is not None and demo.limit_re.pattern == PRESETS["demo"]["limit_re"]


FROZEN = [
    ("config", lambda c: c, "session_prefix"),
    ("agent", lambda c: c.agents[0], "name"),
    ("backend", lambda c: c.backend("demo"), "flags"),
    ("watchdog", lambda c: c.watchdog, "signal_interval"),
    ("wake", lambda c: c.agents[1].wake, "interval"),
]


@pytest.mark.parametrize(("pick", "attr"), [f[1:] for f in FROZEN], ids=[f[0] for f in FROZEN])
def test_loaded_objects_are_frozen(full: Config, pick: Callable[[Config], object],
                                   attr: str) -> None:
    obj = pick(full)
    before = getattr(obj, attr)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, attr, "changed")
    assert getattr(obj, attr) == before


def test_agent_values_win_over_defaults(tmp_path: Path) -> None:
    config = load_ok(tmp_path, TOOL + """
        [[agent]]
        name = "a"
        [[agent]]
        name = "b"
        backend = "tool"
        watch = "heal+stall"
        model = "m2"
        dir = "d2"
    """, head=HEAD + 'watch = "heal"\nmodel = "m1"\ndir = "d1"\n')
    root = tmp_path.resolve()
    a, b = config.agents
    assert (a.backend, a.watch, a.model, a.dir) == ("demo", "heal", "m1", root / "d1")
    assert (b.backend, b.watch, b.model, b.dir) == ("tool", "heal+stall", "m2", root / "d2")


def test_agent_without_defaults_gets_schema_defaults(tmp_path: Path) -> None:
    agent = load_ok(tmp_path, '[[agent]]\nname = "a"\n').agents[0]
    assert agent == Agent(name="a", session="t-a", backend="demo", dir=tmp_path.resolve())
    assert (agent.kind, agent.watch, agent.enabled, agent.model) == (
        "persistent", "none", True, None)


@pytest.mark.parametrize(("prefix", "name", "session"), [
    ("t-", "alpha", "t-alpha"),
    ("proj_", "Builder-2", "proj_Builder-2"),
    ("", "solo", "solo"),
], ids=["dash-prefix", "underscore-prefix", "empty-prefix"])
def test_session_is_prefix_plus_name(tmp_path: Path, prefix: str, name: str,
                                     session: str) -> None:
    head = f'[defaults]\nsession_prefix = "{prefix}"\nlog_dir = "l"\nbackend = "demo"\n'
    config = load_ok(tmp_path, f'[[agent]]\nname = "{name}"\n', head=head)
    assert config.agents[0].session == session
    assert config.watchdog_session == prefix + "watchdog"


PATHS = [
    # (id, project_dir line or "", agent dir, expected dir relative to {cfg}, {home} or {abs})
    ("default-dot", "", ".", "{cfg}"),
    ("relative", "", "sub/x", "{cfg}/sub/x"),
    ("dotdot", "", "../sibling", "{cfg}/../sibling"),
    ("home", "", "~/w", "{home}/w"),
    ("absolute", "", "{abs}/a", "{abs}/a"),
    ("project-relative", 'project_dir = "../proj"', "x", "{cfg}/../proj/x"),
    ("project-absolute", 'project_dir = "{abs}"', "x", "{abs}/x"),
    ("project-home", 'project_dir = "~/p"', "x", "{home}/p/x"),
    ("project-home-dir-home", 'project_dir = "~/p"', "~/q", "{home}/q"),
]


@pytest.mark.parametrize(("project_line", "value", "expected"), [p[1:] for p in PATHS],
                         ids=[p[0] for p in PATHS])
def test_agent_dir_resolution(tmp_path: Path, project_line: str, value: str,
                              expected: str) -> None:
    folder = tmp_path / "cfg"
    absolute = tmp_path / "abs"
    fill = {"cfg": str(folder), "home": os.environ["HOME"], "abs": str(absolute)}
    head = HEAD + project_line.format(**fill) + "\n"
    path = write(folder, cfg(f'[[agent]]\nname = "a"\ndir = "{value.format(**fill)}"\n', head))
    config = load(path)
    assert config.agents[0].dir == Path(expected.format(**fill)).resolve()
    assert config.agents[0].dir.is_absolute()


def test_other_paths_resolve_against_project_dir(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "p").mkdir(parents=True)
    (project / "p" / "a.md").write_text("hi", encoding="utf-8")
    head = ('[defaults]\nsession_prefix = "t-"\nlog_dir = "var/logs"\nbackend = "demo"\n'
            'project_dir = "../project"\n')
    text = cfg('[[agent]]\nname = "a"\nprompt_file = "p/a.md"\n[[service]]\nname = "web"\n'
               'command = "serve"\n', head)
    config = load(write(tmp_path / "conf", text))
    root = project.resolve()
    assert config.project_dir == root
    assert config.log_dir == root / "var" / "logs"
    assert config.agents[0].prompt_file == root / "p" / "a.md"
    assert config.services[0].dir == root
    assert config.path == (tmp_path / "conf" / "agents.toml").resolve()


def test_log_dir_with_tilde(tmp_path: Path) -> None:
    head = '[defaults]\nsession_prefix = "t-"\nlog_dir = "~/agent-logs"\nbackend = "demo"\n'
    config = load_ok(tmp_path, '[[agent]]\nname = "a"\n', head=head)
    assert config.log_dir == (Path(os.environ["HOME"]) / "agent-logs").resolve()


def test_load_accepts_a_string_path_and_sets_a_digest(tmp_path: Path) -> None:
    path = write(tmp_path, cfg('[[agent]]\nname = "a"\n'))
    first = load(str(path))
    assert re.fullmatch(r"[0-9a-f]{12}", first.digest)
    assert load(path).digest == first.digest
    path.write_text(cfg('[[agent]]\nname = "a"\nmodel = "m"\n'), encoding="utf-8")
    assert load(path).digest != first.digest


def test_tmux_socket_is_kept(tmp_path: Path) -> None:
    config = load_ok(tmp_path, '[[agent]]\nname = "a"\n', head=HEAD + 'tmux_socket = "priv"\n')
    assert config.tmux_socket == "priv"


def test_agent_list_may_be_empty(tmp_path: Path) -> None:
    config = load_ok(tmp_path)
    assert config.agents == ()
    assert config.session_prefix == "t-"


# ----------------------------------------------------------------------------- error lines
# The rows for the reliability cases T03-T05 (typos, "false" for a bool, nan/inf, Agent/agent,
# bad regexes) live in tests/reliability/test_config_cases.py.


class ErrorCase(NamedTuple):
    id: str
    text: str
    rows: list[Row]
    files: tuple[str, ...] = ()


AGENT_A = '[[agent]]\nname = "a"\n'
ERROR_CASES = [
    # --- unknown keys, with a did-you-mean
    ErrorCase("defaults-misspelled", cfg(head='[defaults]\nsesion_prefix = "t-"\n'
                                              'log_dir = "logs"\nbackend = "demo"\n'), [
        ("[defaults]", "defaults.session_prefix", "missing required key 'session_prefix'"),
        ("sesion_prefix", "defaults.sesion_prefix",
         "unknown key (did you mean 'session_prefix'?)"),
    ]),
    ErrorCase("defaults-unknown-no-hint", cfg(AGENT_A, HEAD + "zzz = 1\n"), [
        ("zzz = 1", "defaults.zzz", "unknown key"),
    ]),
    ErrorCase("second-agent-misspelled",
              cfg(AGENT_A + '[[agent]]\nname = "b"\nwacth = "heal"\n'), [
        ("wacth", "agent.b.wacth", "unknown key (did you mean 'watch'?)"),
    ]),
    ErrorCase("backend-misspelled", cfg(TOOL + 'flag = "-x"\n'), [
        ("flag = ", "backend.tool.flag", "unknown key (did you mean 'flags'?)"),
    ]),
    ErrorCase("preset-override-misspelled", cfg('[backend.demo]\nactive_regex = "x"\n'), [
        ("active_regex", "backend.demo.active_regex",
         "unknown key (did you mean 'active_re'?)"),
    ]),
    # --- wrong types: nothing is coerced
    ErrorCase("interval-string", cfg('[watchdog]\nsignal_interval = "5"\n'), [
        ("signal_interval", "watchdog.signal_interval",
         "got string '5' (expected a number >= 0.1)"),
    ]),
    ErrorCase("crash-limit-float", cfg("[watchdog]\ncrash_limit = 2.5\n"), [
        ("crash_limit", "watchdog.crash_limit",
         "got number 2.5 (expected a whole number >= 1)"),
    ]),
    ErrorCase("crash-limit-bool", cfg("[watchdog]\ncrash_limit = true\n"), [
        ("crash_limit", "watchdog.crash_limit",
         "got boolean True (expected a whole number >= 1)"),
    ]),
    ErrorCase("crash-limit-zero", cfg("[watchdog]\ncrash_limit = 0\n"), [
        ("crash_limit", "watchdog.crash_limit",
         "got integer 0 (expected a whole number >= 1)"),
    ]),
    ErrorCase("negative-float", cfg("[watchdog]\nrestart_backoff = -0.5\n"), [
        ("restart_backoff", "watchdog.restart_backoff",
         "got number -0.5 (expected a number >= 0)"),
    ]),
    ErrorCase("below-minimum", cfg("[watchdog]\nsignal_interval = 0\n"), [
        ("signal_interval", "watchdog.signal_interval",
         "got integer 0 (expected a number >= 0.1)"),
    ]),
    ErrorCase("minus-inf", cfg("[watchdog]\nstall_grace = -inf\n"), [
        ("stall_grace", "watchdog.stall_grace", "got number -inf (expected a number >= 0)"),
    ]),
    ErrorCase("backend-negative", cfg(TOOL + "connect_delay = -3\n"), [
        ("connect_delay", "backend.tool.connect_delay",
         "got integer -3 (expected a number >= 0)"),
    ]),
    ErrorCase("backend-bool-string", cfg(TOOL + 'footer_ui = "yes"\n'), [
        ("footer_ui", "backend.tool.footer_ui", "got string 'yes' (expected true or false)"),
    ]),
    ErrorCase("watch-choice", cfg('[[agent]]\nname = "a"\nwatch = "always"\n'), [
        ("watch", "agent.a.watch",
         'got string \'always\' (expected one of "none", "heal", "heal+stall")'),
    ]),
    ErrorCase("kind-choice", cfg('[[agent]]\nname = "a"\nkind = "daemon"\n'), [
        ("kind", "agent.a.kind", 'got string \'daemon\' (expected one of "persistent", '
                                 '"loop", "task", "orchestrator")'),
    ]),
    ErrorCase("delivery-choice", cfg(TOOL + 'prompt_delivery = "stdin"\n'), [
        ("prompt_delivery", "backend.tool.prompt_delivery",
         'got string \'stdin\' (expected one of "arg", "ping", "exec")'),
    ]),
    # --- regexes
    ErrorCase("bad-regex-in-preset-override", cfg('[backend.demo]\nfatal_re = "a**"\n'), [
        ("fatal_re", "backend.demo.fatal_re",
         "invalid regular expression: bad repetition operator: **"),
    ]),
    ErrorCase("regex-not-string", cfg(TOOL + "limit_re = 5\n"), [
        ("limit_re", "backend.tool.limit_re",
         "got integer 5 (expected a regular expression string)"),
    ]),
    # --- backends
    ErrorCase("unknown-backend-hint", cfg('[[agent]]\nname = "a"\nbackend = "dmeo"\n'), [
        ('backend = "dmeo"', "agent.a.backend", "unknown backend 'dmeo' (did you mean 'demo'?)"),
    ]),
    ErrorCase("unknown-backend-list", cfg(TOOL + '[[agent]]\nname = "a"\nbackend = "zzz"\n'), [
        ('backend = "zzz"', "agent.a.backend",
         "unknown backend 'zzz' (expected one of "
         + ", ".join(sorted({*PRESETS, "tool"})) + ")"),
    ]),
    ErrorCase("backend-without-bin", cfg('[backend.mine]\nflags = "-x"\n'), [
        ("[backend.mine]", "backend.mine.bin", "missing required key 'bin'"),
    ]),
    ErrorCase("no-backend-anywhere", cfg(AGENT_A, '[defaults]\nsession_prefix = "t-"\n'
                                                  'log_dir = "logs"\n'), [
        ("[[agent]]", "agent.a.backend", "no backend: set 'backend' here or in [defaults]"),
    ]),
    # --- agent rules
    ErrorCase("prompt-and-prompt-file",
              cfg('[[agent]]\nname = "a"\nprompt = "x"\nprompt_file = "p.md"\n'), [
        ("[[agent]]", "agent.a", "set 'prompt' or 'prompt_file', not both"),
    ], files=("p.md",)),
    ErrorCase("loop-without-role", cfg('[[agent]]\nname = "a"\nkind = "loop"\n'), [
        ("[[agent]]", "agent.a", "a loop agent needs a 'role'"),
    ]),
    # --- [defaults]
    ErrorCase("missing-log-dir", cfg(AGENT_A, '[defaults]\nsession_prefix = "t-"\n'
                                              'backend = "demo"\n'), [
        ("[defaults]", "defaults.log_dir", "missing required key 'log_dir'"),
    ]),
    ErrorCase("missing-session-prefix", cfg(AGENT_A, '[defaults]\nlog_dir = "l"\n'
                                                     'backend = "demo"\n'), [
        ("[defaults]", "defaults.session_prefix", "missing required key 'session_prefix'"),
    ]),
    ErrorCase("empty-log-dir", cfg(AGENT_A, '[defaults]\nsession_prefix = "t-"\nlog_dir = ""\n'
                                            'backend = "demo"\n'), [
        ("log_dir", "defaults.log_dir", "got string '' (expected a non-empty string)"),
    ]),
    ErrorCase("bad-session-prefix", cfg(AGENT_A, '[defaults]\nsession_prefix = "my proj:"\n'
                                                 'log_dir = "l"\nbackend = "demo"\n'), [
        ("session_prefix", "defaults.session_prefix",
         "may hold only letters, digits, '-' and '_' (tmux rewrites other characters in "
         "session names)"),
    ]),
    ErrorCase("bad-tmux-socket", cfg(AGENT_A, HEAD + 'tmux_socket = "a/b"\n'), [
        ("tmux_socket", "defaults.tmux_socket", f"got string 'a/b' (expected {NAME_RULE})"),
    ]),
    # --- names and sessions
    ErrorCase("duplicate-name", cfg(AGENT_A + '[[agent]]\nname = "a"  # again\n'), [
        ('name = "a"  # again', "agent.a", "duplicate name 'a' (already used by agent 'a')"),
    ]),
    ErrorCase("agent-named-watchdog", cfg('[[agent]]  # the bad one\nname = "watchdog"\n'), [
        ("# the bad one", "agent.watchdog.session",
         "session name 't-watchdog' is already used by the watchdog"),
    ]),
    ErrorCase("agent-named-Watchdog", cfg('[[agent]]  # the bad one\nname = "Watchdog"\n'), [
        ("# the bad one", "agent.Watchdog.session",
         "session name 't-Watchdog' is already used by the watchdog"),
    ]),
    ErrorCase("session-of-watchdog", cfg('[[agent]]  # the bad one\nname = "a"\n'
                                         'session = "t-watchdog"\n'), [
        ("# the bad one", "agent.a.session",
         "session name 't-watchdog' is already used by the watchdog"),
    ]),
    ErrorCase("session-collision", cfg(AGENT_A + '[[agent]]  # second\nname = "b"\n'
                                       'session = "t-a"\n'), [
        ("# second", "agent.b.session", "session name 't-a' is already used by agent 'a'"),
    ]),
    ErrorCase("service-named-like-agent",
              cfg(AGENT_A + '[[service]]\nname = "A"  # service\ncommand = "serve"\n'), [
        ("# service", "service.A", "duplicate name 'A' (already used by agent 'a')"),
    ]),
    # --- services
    ErrorCase("service-without-command", cfg('[[service]]\nname = "web"\n'), [
        ("[[service]]", "service[0].command", "missing required key 'command'"),
    ]),
    ErrorCase("service-misspelled", cfg('[[service]]\nname = "web"\ncomand = "x"\n'
                                        'command = "serve"\n'), [
        ("comand", "service[0].comand", "unknown key (did you mean 'command'?)"),
    ]),
    # --- mcp = true: only a backend whose CLI takes our MCP server on its command line
    ErrorCase("mcp-on-a-backend-that-cannot", cfg(AGENT_A + "mcp = true  # lead\n"), [
        ("# lead", "agent.a.mcp", "backend 'demo' cannot be given the MCP server at launch; "
         "mcp = true works with backend 'claude' or 'codex'"),
    ]),
    ErrorCase("mcp-on-claude-by-ping", cfg('[[agent]]\nname = "a"\nbackend = "claude"\n'
                                           "mcp = true  # lead\n[backend.claude]\n"
                                           'prompt_delivery = "ping"\n'), [
        ("# lead", "agent.a.mcp", "backend 'claude' cannot be given the MCP server at "
         "launch; mcp = true works with backend 'codex'"),
    ]),
    ErrorCase("mcp-not-a-bool", cfg(AGENT_A + 'mcp = "yes"  # lead\n'), [
        ("# lead", "agent.a.mcp", "got string 'yes' (expected true or false)"),
    ]),
    # --- model_env
    ErrorCase("model-env-invalid", cfg(TOOL + 'model_env = "not valid!"\n'), [
        ("model_env", "backend.tool.model_env",
         "got string 'not valid!' (expected true, false or an environment variable name)"),
    ]),
    ErrorCase("model-env-number", cfg(TOOL + "model_env = 1\n"), [
        ("model_env", "backend.tool.model_env",
         "got integer 1 (expected true, false or an environment variable name)"),
    ]),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.id for c in ERROR_CASES])
def test_error_message_and_line(tmp_path: Path, case: ErrorCase) -> None:
    path = write(tmp_path, case.text, case.files)
    exc = errors(path)
    assert sorted(str(exc).splitlines()) == sorted(rendered(path, case.text, case.rows))
    assert len(exc.problems) == len(case.rows)
    assert exc.filename == str(path)


# Names tmux would rewrite or a shell / tmux could misread as something else.
BAD_NAMES = [
    ("dot", "a.b"), ("colon", "a:b"), ("space", "a b"), ("leading-dash", "-t"),
    ("command-substitution", "$(x)"), ("empty", ""), ("65-chars", "x" * 65),
    ("leading-underscore", "_a"), ("slash", "a/b"), ("non-ascii", "café"),
]


@pytest.mark.parametrize("name", [n[1] for n in BAD_NAMES], ids=[n[0] for n in BAD_NAMES])
@pytest.mark.parametrize("table", ["agent", "service"])
def test_bad_names_are_rejected_at_their_line(tmp_path: Path, name: str, table: str) -> None:
    extra = 'command = "serve"\n' if table == "service" else ""
    text = cfg(f'[[{table}]]\nname = "{name}"  # here\n{extra}')
    exc = errors(write(tmp_path, text))
    assert len(exc.problems) == 1
    problem = exc.problems[0]
    assert problem.line == line_of(text, "# here")
    assert problem.key.startswith(f"{table}") and problem.key.endswith(".name")
    assert problem.message.startswith("got string '")
    assert problem.message.endswith(f"(expected {NAME_RULE})")


@pytest.mark.parametrize("name", ["a", "A-b_9", "9lives", "x" * 64],
                         ids=["one-char", "mixed", "leading-digit", "64-chars"])
def test_good_names_are_accepted(tmp_path: Path, name: str) -> None:
    config = load_ok(tmp_path, f'[[agent]]\nname = "{name}"\n')
    assert config.agents[0].name == name
    assert config.agents[0].session == "t-" + name


def test_missing_prompt_file_says_file_not_found(tmp_path: Path) -> None:
    text = cfg('[[agent]]\nname = "a"\nprompt_file = "prompts/missing.md"\n')
    exc = errors(write(tmp_path, text))
    assert len(exc.problems) == 1
    problem = exc.problems[0]
    assert problem.line == line_of(text, "prompt_file")
    assert problem.key.endswith("prompt_file")
    assert problem.message == f"file not found: {tmp_path.resolve()}/prompts/missing.md"


def test_prompt_file_that_is_a_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    text = cfg('[[agent]]\nname = "a"\nprompt_file = "prompts"\n')
    exc = errors(write(tmp_path, text))
    assert [p.message for p in exc.problems] == ["prompts is not a regular file"]


@pytest.mark.parametrize(("wake", "needle", "message"), [
    ('wake = { interval = 0, prompt_file = "w.md" }', "wake =",
     "got integer 0 (expected a number >= 1)"),
    ("wake = { interval = 60 }", "wake =", "missing required key 'prompt_file'"),
    ('wake = { interval = 60, prompt_file = "nope.md" }', "wake =",
     "file not found: <root>/nope.md"),
    ('wake = "hourly"', "wake =", "got string 'hourly' (expected a table)"),
], ids=["interval-zero", "no-prompt-file", "missing-file", "not-a-table"])
def test_wake_errors(tmp_path: Path, wake: str, needle: str, message: str) -> None:
    text = cfg(f'[[agent]]\nname = "a"\n{wake}\n')
    path = write(tmp_path, text, ("w.md",))
    exc = errors(path)
    assert [(p.line, p.message) for p in exc.problems] == [
        (line_of(text, needle), message.replace("<root>", str(tmp_path.resolve())))]


def test_missing_defaults_table(tmp_path: Path) -> None:
    path = write(tmp_path, AGENT_A)
    exc = errors(path)
    messages = sorted((p.line, p.message) for p in exc.problems
                      if p.message.startswith("missing"))
    # no [defaults] line to point at: the problems carry no line
    assert messages == [(None, "missing required key 'defaults'"),
                        (None, "missing required key 'log_dir'"),
                        (None, "missing required key 'session_prefix'")]
    assert str(path) + ": " in str(exc)


def test_defaults_not_a_table(tmp_path: Path) -> None:
    text = 'defaults = "x"\n' + AGENT_A
    exc = errors(write(tmp_path, text))
    assert (1, "got string 'x' (expected a table)") in [(p.line, p.message)
                                                        for p in exc.problems]


def test_all_problems_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = cfg("""
        [watchdog]
        crash_limit = 2.5

        [backend.tool]
        bin = "tool"
        active_re = "([a-z]+"

        [[agent]]
        name = "a"
        promt = "hi"

        [[agent]]
        name = "b"
        enabled = "false"
    """)
    path = write(tmp_path, text)
    exc = errors(path)
    assert [p.line for p in exc.problems] == [
        line_of(text, "crash_limit"), line_of(text, "active_re"), line_of(text, "promt"),
        line_of(text, "enabled")]
    assert [p.key for p in exc.problems] == [
        "watchdog.crash_limit", "backend.tool.active_re", "agent.a.promt", "agent.b.enabled"]
    assert len(str(exc).splitlines()) == 4
    assert all(line.startswith(f"{path}:") for line in str(exc).splitlines())


# ----------------------------------------------------------------------------- unreadable files


def test_toml_syntax_error_has_tomllib_line_and_no_traceback(tmp_path: Path) -> None:
    text = cfg('[[agent]]\nname = "a"\nwatch = \n')
    path = write(tmp_path, text)
    exc = errors(path)
    assert str(exc) == f"{path}:7: TOML syntax error at column 9: Invalid value"
    assert line_of(text, "watch =") == 7
    assert exc.problems[0].line == 7
    # raised `from None`: no chained tomllib traceback behind it
    assert exc.__cause__ is None and exc.__suppress_context__


def test_toml_duplicate_key_is_a_syntax_error(tmp_path: Path) -> None:
    text = cfg('[[agent]]\nname = "a"\nname = "b"\n')
    exc = errors(write(tmp_path, text))
    assert len(exc.problems) == 1
    assert exc.problems[0].line == line_of(text, 'name = "b"')
    assert exc.problems[0].message.startswith("TOML syntax error at column ")


def test_cli_prints_syntax_error_without_traceback(tmp_path: Path) -> None:
    text = cfg('[[agent]]\nname = "a\n')
    path = write(tmp_path, text)
    result = subprocess.run([sys.executable, "-m", "agent_orchestrator", "check", "--config",
                             str(path)], capture_output=True, text=True, timeout=60,
                            check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path}:{line_of(text, 'name = ')}: TOML syntax error" in result.stderr


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    exc = errors(path)
    assert str(exc) == f"{path}: cannot read: No such file or directory"


def test_file_that_is_not_utf8_is_still_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "agents.toml"
    path.write_bytes(cfg('[[agent]]\nname = "a"\npromt = "caf\xe9"\n').encode("latin-1"))
    exc = errors(path)
    assert [(p.line, p.key) for p in exc.problems] == [(7, ""), (7, "agent.a.promt")]
    assert exc.problems[0].message == "not valid UTF-8 at byte 13 of the line (save the file "\
        "as UTF-8)"


# ----------------------------------------------------------------------------- env overrides

ENV_FLEET = TOOL + """
[[agent]]
name = "alpha"
model = "file-model"

[[agent]]
name = "my-agent"
model = "file-model"
"""
ENV_CASES = [
    # (id, env, agent, expected (backend, model))
    ("no-env", None, "alpha", ("demo", "file-model")),
    ("empty-env", {}, "alpha", ("demo", "file-model")),
    ("model", {"AGENT_MODEL_alpha": "env-model"}, "alpha", ("demo", "env-model")),
    ("backend", {"AGENT_BACKEND_alpha": "tool"}, "alpha", ("tool", "file-model")),
    ("both", {"AGENT_MODEL_alpha": "m", "AGENT_BACKEND_alpha": "tool"}, "alpha", ("tool", "m")),
    ("other-agent-only", {"AGENT_MODEL_alpha": "m"}, "my-agent", ("demo", "file-model")),
    ("dash-as-underscore", {"AGENT_MODEL_my_agent": "m"}, "my-agent", ("demo", "m")),
    ("dash-as-written", {"AGENT_MODEL_my-agent": "m"}, "my-agent", ("demo", "m")),
    ("backend-dash-as-underscore", {"AGENT_BACKEND_my_agent": "tool"}, "my-agent",
     ("tool", "file-model")),
    ("unrelated-vars", {"AGENT_MODEL_": "x", "MODEL_alpha": "x"}, "alpha",
     ("demo", "file-model")),
]


@pytest.mark.parametrize(("env", "name", "expected"), [c[1:] for c in ENV_CASES],
                         ids=[c[0] for c in ENV_CASES])
def test_env_overrides(tmp_path: Path, env: dict[str, str] | None, name: str,
                       expected: tuple[str, str]) -> None:
    config = load(write(tmp_path, cfg(ENV_FLEET)), env)
    agent = config.agent(name)
    assert agent is not None
    assert (agent.backend, agent.model) == expected


def test_env_none_ignores_the_process_environment(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_MODEL_alpha", "from-environ")
    path = write(tmp_path, cfg(ENV_FLEET))
    assert load(path).agent("alpha").model == "file-model"  # type: ignore[union-attr]
    assert load(path, None).agent("alpha").model == "file-model"  # type: ignore[union-attr]
    assert load(path, os.environ).agent("alpha").model == "from-environ"  # type: ignore[union-attr]


def test_env_model_overrides_a_defaults_model(tmp_path: Path) -> None:
    config = load_ok(tmp_path, AGENT_A, env={"AGENT_MODEL_a": "e"},
                     head=HEAD + 'model = "d"\n')
    assert config.agents[0].model == "e"


def test_env_backend_must_exist(tmp_path: Path) -> None:
    text = cfg(ENV_FLEET)
    exc = errors(write(tmp_path, text), {"AGENT_BACKEND_alpha": "tol"})
    assert [(p.key, p.message) for p in exc.problems] == [
        ("agent.alpha.backend", "unknown backend 'tol' (did you mean 'tool'?)")]
    # alpha sets no backend itself: the problem points at its [[agent]] header
    assert exc.problems[0].line == line_of(text, 'name = "alpha"') - 1


# ----------------------------------------------------------------------------- [loop]

LOOP_AGENTS = """
[[agent]]
name = "bob"
kind = "loop"
role = "builder"

[[agent]]
name = "ada"
kind = "loop"
role = "adversary"

[[agent]]
name = "report"
kind = "task"
prompt = "Write the report."
"""
LOOP_FILES = ("prompts/builder.md", "prompts/adversary.md", "kick.md")


def test_loop_parses(tmp_path: Path) -> None:
    config = load_ok(tmp_path, LOOP_AGENTS + """
        [loop]
        kickoff_template = "kick.md"
        state_file = "idx"
        auto_advance = false
        resume_phase = false
        phases = [
          { id = "p1", status = "S1.md", plan = "P1.md", models = { builder = "m1", adversary = "m2" }, verify = ["make test", "ruff check ."] },
          { id = "p2", status = "S2.md" },
        ]
        handoff = { repo = "repo", claim_pings = "adversary", review_pings = "bob" }
        on_complete = { run = "report" }
    """, LOOP_FILES)  # noqa: E501
    root = tmp_path.resolve()
    loop = config.loop
    assert loop is not None
    assert loop.phases == (
        Phase(id="p1", status="S1.md", plan="P1.md",
              models=(("adversary", "m2"), ("builder", "m1")),
              verify=("make test", "ruff check .")),
        Phase(id="p2", status="S2.md"),
    )
    assert loop.phases[0].model_for("builder") == "m1"
    assert loop.phases[0].model_for(None) is None
    assert loop.phases[1].model_for("builder") is None
    assert loop.kickoff_template == root / "kick.md"
    assert loop.roles_dir == root / "prompts"
    assert (loop.state_file, loop.done_marker, loop.auto_advance, loop.resume_phase) == (
        "idx", "## DONE", False, False)
    assert loop.on_complete == OnComplete(run="report", trigger_file=".run-on-complete")
    handoff = loop.handoff
    assert isinstance(handoff, Handoff)
    assert (handoff.repo, handoff.claim_pings, handoff.review_pings, handoff.state_subdir,
            handoff.inboxes) == (root / "repo", "adversary", "bob", "machine-docs",
                                 ("to_adversary", "to_builder"))
    assert handoff.claim_pattern is not None and handoff.claim_pattern.search("x\nClaim: p1")


def test_loop_defaults(tmp_path: Path) -> None:
    config = load_ok(tmp_path, LOOP_AGENTS + '[loop]\nroles_dir = "prompts"\n', LOOP_FILES)
    assert config.loop == Loop(roles_dir=tmp_path.resolve() / "prompts")


def test_handoff_defaults(tmp_path: Path) -> None:
    config = load_ok(tmp_path, LOOP_AGENTS + '[loop]\nhandoff = { repo = "repo" }\n',
                     LOOP_FILES)
    assert config.loop is not None
    handoff = config.loop.handoff
    assert handoff == Handoff(repo=tmp_path.resolve() / "repo")
    assert handoff.claim_pattern is not None and handoff.review_pattern is not None
    assert handoff.claim_pattern.search("x\nCLAIM: p1")
    assert handoff.review_pattern.search("x\nReview: p1")
    assert not handoff.claim_pattern.search("unclaimed")


def test_loop_phases_as_array_of_tables(tmp_path: Path) -> None:
    config = load_ok(tmp_path, LOOP_AGENTS + """
        [[loop.phases]]
        id = "p1"
        status = "S1.md"
        verify = ["true"]

        [[loop.phases]]
        id = "p2"
        status = "S2.md"
        [loop.phases.models]
        builder = "big"
    """, LOOP_FILES)
    assert config.loop is not None
    assert config.loop.phases == (Phase(id="p1", status="S1.md", verify=("true",)),
                                  Phase(id="p2", status="S2.md", models=(("builder", "big"),)))


LOOP_ERRORS = [
    ErrorCase("on-complete-unknown-agent", cfg(LOOP_AGENTS + """
        [loop]
        on_complete = { run = "ghost" }
    """), [("on_complete", "loop.on_complete.run", "no agent named 'ghost'")]),
    ErrorCase("on-complete-bad-name", cfg(LOOP_AGENTS + """
        [loop]
        on_complete = { run = "a b" }
    """), [("on_complete", "loop.on_complete.run", f"got string 'a b' (expected {NAME_RULE})")]),
    ErrorCase("claim-pings-unknown", cfg(LOOP_AGENTS + """
        [loop.handoff]
        repo = "."
        claim_pings = "nobody"
    """), [("claim_pings", "loop.handoff.claim_pings", "'nobody' is not a loop agent's name or "
                                                       "role (expected one of ada, adversary, "
                                                       "bob, builder)")]),
    ErrorCase("claim-pings-non-loop-agent", cfg(LOOP_AGENTS + """
        [loop.handoff]
        repo = "."
        claim_pings = "report"
    """), [("claim_pings", "loop.handoff.claim_pings", "'report' is not a loop agent's name or "
                                                       "role (expected one of ada, adversary, "
                                                       "bob, builder)")]),
    ErrorCase("handoff-without-repo", cfg(LOOP_AGENTS + """
        [loop]
        handoff = { claim_pings = "bob" }
    """), [("handoff", "loop.handoff.repo", "missing required key 'repo'")]),
    ErrorCase("kickoff-template-missing", cfg(LOOP_AGENTS + """
        [loop]
        kickoff_template = "nope.md"
    """), [("kickoff_template", "loop.kickoff_template", "file not found: <root>/nope.md")]),
    ErrorCase("phase-without-status", cfg(LOOP_AGENTS + """
        [loop]
        phases = [
          { id = "p1", status = "S1.md" },
          { id = "p2" },
        ]
    """), [('{ id = "p2" }', "loop.phases[1].status", "missing required key 'status'")]),
    ErrorCase("phase-misspelled", cfg(LOOP_AGENTS + """
        [loop]
        phases = [
          { id = "p1", status = "S1.md", verfy = ["x"] },
        ]
    """), [('{ id = "p1"', "loop.phases[0].verfy", "unknown key (did you mean 'verify'?)")]),
    ErrorCase("phase-verify-not-strings", cfg(LOOP_AGENTS + """
        [loop]
        phases = [{ id = "p1", status = "S1.md", verify = [1] }]
    """), [("phases", "loop.phases[0].verify", "got array (expected an array of strings)")]),
    ErrorCase("duplicate-phase-id", cfg(LOOP_AGENTS + """
        [loop]
        phases = [
          { id = "p1", status = "S1.md" },
          { id = "p1", status = "S2.md" },
        ]
    """), [("phases = [", "loop.phases", "duplicate phase id 'p1'")]),
    ErrorCase("loop-misspelled", cfg(LOOP_AGENTS + """
        [loop]
        auto_advanse = true
    """), [("auto_advanse", "loop.auto_advanse", "unknown key (did you mean 'auto_advance'?)")]),
]


@pytest.mark.parametrize("case", LOOP_ERRORS, ids=[c.id for c in LOOP_ERRORS])
def test_loop_errors(tmp_path: Path, case: ErrorCase) -> None:
    path = write(tmp_path, case.text, LOOP_FILES)
    exc = errors(path)
    assert sorted(str(exc).splitlines()) == sorted(rendered(path, case.text, case.rows))


def test_loop_role_file_must_exist(tmp_path: Path) -> None:
    text = cfg(LOOP_AGENTS + '[loop]\nroles_dir = "roles"\n')
    exc = errors(write(tmp_path, text, ("roles/builder.md",)))
    assert [(p.line, p.message) for p in exc.problems] == [
        (line_of(text, 'role = "adversary"'),
         f"file not found: {tmp_path.resolve()}/roles/adversary.md")]


# ----------------------------------------------------------------------------- [[service]]


def test_services_parse(tmp_path: Path) -> None:
    config = load_ok(tmp_path, AGENT_A + """
        [[service]]
        name = "web"
        command = "npm run dev -- --port 3000"
        dir = "~/site"

        [[service]]
        name = "queue"
        command = "redis-server"
        session = "q-main"
    """)
    home = Path(os.environ["HOME"]).resolve()
    assert config.services == (
        Service(name="web", session="t-web", command="npm run dev -- --port 3000",
                dir=home / "site"),
        Service(name="queue", session="q-main", command="redis-server",
                dir=tmp_path.resolve()),
    )
    assert config.service("queue") is config.services[1]
    assert config.service("a") is None  # an agent is not a service


def test_service_session_colliding_with_an_agent(tmp_path: Path) -> None:
    text = cfg(AGENT_A + '[[service]]  # svc\nname = "web"\ncommand = "x"\nsession = "t-a"\n')
    exc = errors(write(tmp_path, text))
    assert [(p.line, p.key, p.message) for p in exc.problems] == [
        (line_of(text, "# svc"), "service.web.session",
         "session name 't-a' is already used by agent 'a'")]


# ----------------------------------------------------------------------------- backends


@pytest.mark.parametrize(("value", "expected"), [
    ("true", "opencode"), ("false", ""), ('"OPENCODE_CONFIG_CONTENT"', "OPENCODE_CONFIG_CONTENT"),
    ('"_X1"', "_X1"), ('""', ""),
], ids=["true", "false", "env-name", "underscore-name", "empty"])
def test_model_env(tmp_path: Path, value: str, expected: str) -> None:
    config = load_ok(tmp_path, TOOL + f"model_env = {value}\n")
    assert config.backend("tool").model_env == expected


EXEC_OK = [
    ("single-quoted", "mycli '{kickoff}'"),
    ("double-quoted", "mycli \\\"{kickoff}\\\""),
    ("bare-several", "mycli --session {session} --model {model} --id {id} < {kickoff_file}"),
    ("shell-prefix", "cd {dir} && exec mycli '{kickoff}'"),
]


@pytest.mark.parametrize("bin_", [c[1] for c in EXEC_OK], ids=[c[0] for c in EXEC_OK])
def test_exec_template_accepted(tmp_path: Path, bin_: str) -> None:
    config = load_ok(tmp_path, f'[backend.x]\nbin = "{bin_}"\nprompt_delivery = "exec"\n')
    assert config.backend("x").bin == bin_.replace('\\"', '"')
    assert config.backend("x").prompt_delivery == "exec"


PLACEHOLDER_MSG = ("a placeholder ({p}) sits inside a larger quoted string; "
                   "write it as a word of its own")
TEMPLATE_ERRORS = [
    ("exec-placeholder-in-quoted-text",
     "[backend.x]\nbin = \"mycli 'say {kickoff} now'\"\nprompt_delivery = \"exec\"\n",
     "bin =", "backend.x.bin", PLACEHOLDER_MSG.format(p="{kickoff}")),
    ("exec-unbalanced", "[backend.x]\nbin = \"mycli 'x\"\nprompt_delivery = \"exec\"\n",
     "bin =", "backend.x.bin", "not a valid shell command line (No closing quotation)"),
    ("arg-bin-unbalanced", "[backend.x]\nbin = \"mycli 'x\"\n",
     "bin =", "backend.x.bin", "cannot split into words: No closing quotation"),
    ("flags-unbalanced", "[backend.x]\nbin = \"mycli\"\nflags = \"--a 'b\"\n",
     "flags", "backend.x.flags", "cannot split into words: No closing quotation"),
    ("model-flag-unbalanced", "[backend.x]\nbin = \"mycli\"\nmodel_flag = '--model \"{model}'\n",
     "model_flag", "backend.x.model_flag", "cannot split into words: No closing quotation"),
    ("preset-flags-unbalanced", "[backend.demo]\nflags = '--busy \"5'\n",
     "flags", "backend.demo.flags", "cannot split into words: No closing quotation"),
    ("attach-placeholder-in-quotes",
     "[backend.x]\nbin = \"tui\"\nprompt_delivery = \"ping\"\n"
     "attach = \"sh -c '{bin} --session {session}'\"\n",
     "attach", "backend.x.attach", PLACEHOLDER_MSG.format(p="{session}")),
]


@pytest.mark.parametrize(("body", "needle", "key", "message"),
                         [c[1:] for c in TEMPLATE_ERRORS], ids=[c[0] for c in TEMPLATE_ERRORS])
def test_template_errors(tmp_path: Path, body: str, needle: str, key: str,
                         message: str) -> None:
    text = cfg(body)
    path = write(tmp_path, text)
    assert str(errors(path)) == f"{path}:{line_of(text, needle)}: {key}: {message}"


# ------------------------------------------------------------- regressions (each was a bug)


@pytest.mark.parametrize(("text", "key"), [
    (AGENT_A, "defaults"),
    (cfg('[[agents]]\nname = "a"\n'), "agents"),
    ("agent = 5\n" + HEAD, "agent"),
], ids=["missing-defaults", "unknown-top-key", "top-key-wrong-type"])
def test_top_level_keys_are_named_without_a_leading_dot(tmp_path: Path, text: str,
                                                        key: str) -> None:
    exc = errors(write(tmp_path, text))
    keys = [p.key for p in exc.problems]
    assert key in keys
    assert not any(k.startswith(".") for k in keys)


def test_bad_default_is_reported_once_at_its_line(tmp_path: Path) -> None:
    text = cfg(AGENT_A + '[[agent]]\nname = "b"\n', HEAD + 'watch = "sometimes"\n')
    exc = errors(write(tmp_path, text))
    assert [(p.line, p.key) for p in exc.problems] == [
        (line_of(text, "watch ="), "defaults.watch")]


@pytest.mark.parametrize(("body", "key"), [
    ('prompt_file = "nope.md"\n', "agent.b.prompt_file"),
    ("wake = { interval = 0, prompt_file = \"w.md\" }\n", "agent.b.wake.interval"),
    ('kind = "loop"\nrole = "nobody"\n[loop]\nroles_dir = "."\n', "agent.b.role"),
], ids=["prompt-file", "wake", "role"])
def test_agent_file_problems_name_the_agent(tmp_path: Path, body: str, key: str) -> None:
    text = cfg(AGENT_A + '[[agent]]\nname = "b"\n' + body)
    exc = errors(write(tmp_path, text, ("w.md",)))
    assert [p.key for p in exc.problems] == [key]


def test_preset_backend_given_a_non_table_is_an_error(tmp_path: Path) -> None:
    text = cfg('[backend]\ndemo = "x"\n' + AGENT_A)
    exc = errors(write(tmp_path, text))
    assert [(p.line, p.key) for p in exc.problems] == [(line_of(text, 'demo = "x"'),
                                                        "backend.demo")]


def test_an_empty_regex_switches_a_presets_regex_off(tmp_path: Path) -> None:
    config = load(write(tmp_path, '[defaults]\nsession_prefix = "t-"\nlog_dir = "logs"\n'
                              '[backend.claude]\nactive_re = ""\nprompt_re = ""\n'
                              '[[agent]]\nname = "a"\nbackend = "claude"\n'))
    backend = config.backend("claude")
    assert backend.active_re is None and backend.prompt_re is None
    assert backend.limit_re is not None  # the others stay the preset's


def test_mcp_defaults_to_false_and_may_be_set_in_defaults(tmp_path: Path) -> None:
    config = load_ok(tmp_path, """
        [[agent]]
        name = "lead"
        backend = "claude"
        [[agent]]
        name = "cx"
        backend = "codex"
        mcp = false
    """, head=HEAD.replace('backend = "demo"', "mcp = true"))
    assert [(a.name, a.mcp) for a in config.agents] == [("lead", True), ("cx", False)]
    assert not load_ok(tmp_path / "plain", AGENT_A).agents[0].mcp
