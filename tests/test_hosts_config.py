"""`[host.NAME]` tables and the agents' `host` (config/hosts.py): what loads, and every
mistake at its line, like every other key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import write_project as write
from test_config import HEAD, cfg, errors, load_ok, rendered

from agent_orchestrator.config import model
from agent_orchestrator.config.hosts import HOST

REMOTE = """
[host.gpu1]
ssh = "dev@gpu1.internal"
port = 2222
identity_file = "keys/id"
python = "/opt/py/bin/python3"

[[agent]]
name = "builder"
host = "gpu1"
dir = "/srv/work"
prompt_file = "~/prompts/builder.md"

[[agent]]
name = "local"
prompt = "hi"
"""


def test_a_host_and_its_agent_load(tmp_path: Path) -> None:
    config = load_ok(tmp_path, REMOTE)
    host = config.hosts[0]
    assert host == model.Host(name="gpu1", ssh="dev@gpu1.internal", port=2222,
                              identity_file=(tmp_path / "keys/id").absolute(),
                              python="/opt/py/bin/python3")
    builder, local = config.agents
    assert builder.host == "gpu1" and local.host is None
    # Paths on the host are taken as written: nothing of them is looked at here.
    assert builder.dir == Path("/srv/work")
    assert builder.prompt_file == Path("~/prompts/builder.md")
    assert local.dir == tmp_path


def test_an_agent_on_a_host_without_dir_works_in_its_home_there(tmp_path: Path) -> None:
    # before: the local default dir (a Path) reached the host check and raised
    # AttributeError, a traceback in `agents check` and a dead watchdog on an edit
    config = load_ok(tmp_path, '[host.h]\nssh = "h"\n[[agent]]\nname = "a"\nprompt = "x"\n'
                     'host = "h"\n')
    assert config.agents[0].dir == Path("~")


def test_host_defaults_are_the_dataclass_fields() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(model.Host)
                if f.default is not dataclasses.MISSING}
    assert {k: v.default for k, v in HOST.items() if not v.required} == defaults


def test_defaults_may_put_every_agent_on_one_host(tmp_path: Path) -> None:
    config = load_ok(tmp_path, '[host.h]\nssh = "h"\n[[agent]]\nname = "a"\nprompt = "x"\n'
                     'dir = "/w"\n', head=HEAD + 'host = "h"\n')
    assert config.agents[0].host == "h"


BAD = [
    ('[host.h]\nssh = "-oProxyCommand=touch /tmp/x"\n', 'ssh = "-o',
     "host.h.ssh", "may not start with '-' or hold blanks or control characters (ssh would "
     "read it as an option or split it)"),
    ('[host.h]\nssh = "a b"\n', 'ssh = "a b"', "host.h.ssh",
     "may not start with '-' or hold blanks or control characters (ssh would read it as an "
     "option or split it)"),
    ('[host.h]\nssh = "h"\nport = 70000\n', "port = 70000", "host.h.port",
     "must be a TCP port, 1-65535"),
    ('[host.h]\nssh = "h"\nsshh = 1\n', "sshh = 1", "host.h.sshh",
     "unknown key (did you mean 'ssh'?)"),
    ('[host.h]\nport = 22\n', "[host.h]", "host.h.ssh", "missing required key 'ssh'"),
]


@pytest.mark.parametrize(("host_table", "needle", "key", "message"), BAD)
def test_bad_host_values_are_errors_at_their_line(tmp_path: Path, host_table: str,
                                                  needle: str, key: str, message: str) -> None:
    text = cfg(host_table + '[[agent]]\nname = "a"\nprompt = "x"\nhost = "h"\ndir = "/w"\n')
    path = write(tmp_path, text)
    # The one problem: a flawed host is still declared (no "unknown host" for its agent).
    assert str(errors(path)).splitlines() == rendered(path, text, [(needle, key, message)])


def test_unknown_and_unused_hosts(tmp_path: Path) -> None:
    text = cfg('[host.gpu1]\nssh = "g"\n[host.spare]\nssh = "s"\n'
               '[[agent]]\nname = "a"\nprompt = "x"\nhost = "gpu2"\ndir = "/w"\n'
               '[[agent]]\nname = "b"\nprompt = "x"\nhost = "gpu1"\ndir = "/w"\n')
    path = write(tmp_path, text)
    said = str(errors(path)).splitlines()
    assert set(rendered(path, text, [
        ('host = "gpu2"', "agent.a.host", "unknown host 'gpu2' (did you mean 'gpu1'?)"),
        ("[host.spare]", "host.spare", 'no agent runs on this host (set `host = "spare"` on '
         "one, or remove the table)")])) == set(said)


def test_a_relative_path_on_a_host_is_an_error(tmp_path: Path) -> None:
    text = cfg('[host.h]\nssh = "h"\n[[agent]]\nname = "a"\nprompt = "x"\nhost = "h"\n'
               'dir = "work"\n')
    path = write(tmp_path, text)
    assert rendered(path, text, [('dir = "work"', "agent.a.dir", "'work' is a path on the "
                                  "agent's host: write it absolute or from ~")])[0] \
        in str(errors(path)).splitlines()


@pytest.mark.parametrize("key", ["worktree", "mcp"])
def test_worktree_and_mcp_are_for_agents_on_this_machine(tmp_path: Path, key: str) -> None:
    text = cfg('[host.h]\nssh = "h"\n[[agent]]\nname = "a"\nbackend = "claude"\nprompt = "x"\n'
               f'host = "h"\ndir = "/w"\n{key} = true\n')
    path = write(tmp_path, text)
    assert str(errors(path)).splitlines() == rendered(path, text, [
        (f"{key} = true", f"agent.a.{key}", f"{key} = true is for agents on this machine; "
         "agent 'a' runs on host 'h'")])
