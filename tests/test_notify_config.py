"""`[notify]` and `[mcp]` in agents.toml: what loads, and each mistake named at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_config

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import model
from agent_orchestrator.core import notify

AGENT = '[[agent]]\nname = "a"\nbackend = "demo"\n'


def load(tmp_path: Path, body: str) -> config_mod.Config:
    return config_mod.load(write_config(tmp_path, AGENT + body))


def problems(tmp_path: Path, body: str) -> str:
    with pytest.raises(config_mod.ConfigError) as caught:
        load(tmp_path, body)
    return str(caught.value)


def test_the_issue_example_loads(tmp_path: Path) -> None:
    config = load(tmp_path, '''
        [notify]
        on = ["crash-looping", "limited", "dialog", "phase-advance", "sequence-complete",
              "fleet-degraded", "turn-finished"]

        [[notify.sink]]
        kind = "webhook"
        url = "https://ntfy.example/my-fleet"
        format = "ntfy"
        headers = { Authorization = "Bearer tk_123456789" }

        [[notify.sink]]
        kind = "command"
        argv = ["notify-send", "agents"]
        ''')
    assert config.notify is not None
    webhook, command = config.notify.sinks
    assert webhook == model.NotifySink("webhook", url="https://ntfy.example/my-fleet",
                                       format="ntfy",
                                       headers=(("Authorization", "Bearer tk_123456789"),))
    assert command.argv == ("notify-send", "agents") and command.kind == "command"
    assert config.notify.min_gap == 600 and config.notify.attempts == 3
    assert config.mcp.allow == model.MCP_READ_TOOLS  # read-only unless allowed


def test_defaults_without_the_tables(tmp_path: Path) -> None:
    config = load(tmp_path, "")
    assert config.notify is None and config.mcp == model.Mcp()
    assert load(tmp_path, "[notify]\n").notify == model.Notify()


def test_every_config_kind_has_a_title() -> None:
    assert set(model.NOTIFY_ON) == set(notify.TITLES)  # task-done, task-failed included
    assert notify.wanted_kinds(model.NOTIFY_DEFAULT_ON)


@pytest.mark.parametrize(("body", "expected"), [
    ('[notify]\non = ["limted"]\n',
     "agents.toml:8: notify.on: unknown notification kind 'limted' (did you mean 'limited'?)"),
    ('[notify]\n[[notify.sink]]\nkind = "webhook"\n',
     "agents.toml:8: notify.sink[0]: a webhook needs a 'url'"),
    ('[notify]\n[[notify.sink]]\nkind = "webhook"\nurl = "ftp://x/secret-topic"\n',
     "agents.toml:10: notify.sink[0].url: expected an http:// or https:// URL with a host"),
    ('[notify]\n[[notify.sink]]\nkind = "command"\nargv = []\n',
     "agents.toml:8: notify.sink[0]: a command sink needs a non-empty 'argv'"),
    ('[notify]\n[[notify.sink]]\nkind = "command"\nargv = ["x"]\nurl = "http://h"\n',
     "agents.toml:11: notify.sink[0].url: a command sink has no 'url' (that is a webhook's)"),
    ('[notify]\n[[notify.sink]]\nkind = "pager"\n',
     'agents.toml:9: notify.sink[0].kind: got string \'pager\' (expected one of "webhook", '
     '"command")'),
    ('[notify]\n[[notify.sink]]\nkind = "webhook"\nurl = "http://h"\n'
     'headers = { "X-A" = "v\\r\\nX-Evil: 1" }\n',
     "agents.toml:11: notify.sink[0].headers: header 'X-A' has a name that is no HTTP token "
     "or a value with a line break"),
    ('[notify]\nattempts = 0\n',
     "agents.toml:8: notify.attempts: got integer 0 (expected a whole number >= 1)"),
    ('[mcp]\nallow = ["fleet_status", "restrat"]\n',
     "agents.toml:8: mcp.allow: unknown tool 'restrat' (did you mean 'restart'?)"),
    ('[mcp]\nalow = ["send"]\n', "agents.toml:8: mcp.alow: unknown key (did you mean 'allow'?)"),
])
def test_mistakes_are_named_at_their_line(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in problems(tmp_path, body)


def test_a_bad_url_is_not_repeated_in_the_error(tmp_path: Path) -> None:
    text = problems(tmp_path, '[notify]\n[[notify.sink]]\nkind = "webhook"\n'
                    'url = "hooks.example/T0/secret-path"\n')
    assert "secret" not in text


def test_mcp_allow_all(tmp_path: Path) -> None:
    assert load(tmp_path, '[mcp]\nallow = ["*"]\n').mcp.allow == ("*",)


def test_the_readme_notify_example_loads(tmp_path: Path) -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
                if "[notify]" in b and "webhook" in b]  # the Notifications section's
    config = load(tmp_path, block)
    assert config.notify is not None and [s.kind for s in config.notify.sinks] == \
        ["webhook", "webhook", "command"]


def test_the_readme_names_each_payload_kind_with_its_on_names() -> None:
    """README, Notifications: the table a consumer matches `kind` by is core/notify.py's."""
    import re

    from agent_orchestrator.core.notify import ALIASES, TITLES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = re.findall(r"^  \| `([\w-]+)` \| (.+?) \| (.+?) \|$", readme, re.MULTILINE)
    table = {kind: (set(re.findall(r"`([\w-]+)`", on)), title) for kind, on, title in rows}
    kinds = {ALIASES.get(name, name) for name in TITLES}
    assert table == {kind: ({kind} | {a for a, k in ALIASES.items() if k == kind},
                            TITLES[kind]) for kind in kinds}


def test_the_readme_says_which_kinds_are_on_by_default() -> None:
    """The Notifications section's default list is NOTIFY_DEFAULT_ON, and the Tasks section
    says task-done and task-failed must be listed (they are not on by default)."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    said = re.search(r"- `on` \(default: (.*?)\): also (.*?);", readme, re.DOTALL)
    assert said is not None
    assert tuple(re.findall(r"`([\w-]+)`", said[1])) == model.NOTIFY_DEFAULT_ON
    others = set(re.findall(r"`([\w-]+)`", said[2]))
    assert others == set(model.NOTIFY_ON) - set(model.NOTIFY_DEFAULT_ON) - {"crash-loop",
                                                                           "limit"}
    assert not {"task-done", "task-failed"} & set(model.NOTIFY_DEFAULT_ON)
    tasks = readme[readme.index("\n## Tasks\n"):readme.index("\n## Several machines\n")]
    assert "not in `[notify] on`'s\ndefault list: list them there" in tasks


@pytest.mark.parametrize(("url", "header"), [
    ('"https://hooks.example/T0/s3cret"', '"Bearer hdr-s3cret"'),  # as written
    ('"https://hooks.example/T0/s3\\u0063ret"', '"Bearer hdr\\u002Ds3cret"'),  # escaped
    ("'https://hooks.example/T0/s3cret'", '"""Bearer hdr-\\\ns3cret"""'),  # literal, folded
])
def test_the_mcp_config_resource_never_shows_a_sink_secret(tmp_path: Path, url: str,
                                                            header: str) -> None:
    from agent_orchestrator.cli.mcpserver import redacted_config

    config = load(tmp_path, f'''
        [[notify.sink]]
        kind = "webhook"
        url = {url}
        headers = {{ Authorization = {header} }}
    ''')
    sink = config.notify.sinks[0]  # type: ignore[union-attr]
    assert "s3cret" in sink.url and "s3cret" in dict(sink.headers)["Authorization"]
    shown = redacted_config(config)
    assert "s3cret" not in shown and "s3\\u0063ret" not in shown and "\\u002D" not in shown
    assert 'backend = "demo"' in shown  # the rest of the file is still there
