"""README stays true to the code: its TOML examples load, its two commands are what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_config

from agent_orchestrator import config as config_mod

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOML_BLOCKS = [b for b in re.findall(r"```toml\n(.*?)```", README, re.DOTALL)
               if "[[agent]]" in b or "[backend." in b]


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=[f"block{i}" for i in range(len(TOML_BLOCKS))])
def test_readme_toml_examples_are_valid_configs(tmp_path: Path, block: str) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "builder-task.md").write_text("task")
    config_mod.load(write_config(tmp_path, block))


def test_ci_runs_the_readme_test_command() -> None:
    test_command = re.findall(r"```sh\n(.*?)\n```", README, re.DOTALL)[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def verb_rows() -> dict[str, list[str]]:
    """The verbs table: each verb, with the text of its rows (usage and what it does)."""
    section = README.split("## Verbs\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        found = re.match(r"\| `agents ([a-z]+)", line)
        if found:
            rows.setdefault(found.group(1), []).append(line)
    return rows


def test_the_verbs_table_is_true_to_the_parser() -> None:
    """Every verb has a row and every row a verb; every option a row names is the verb's,
    and every option of a verb is named in its rows."""
    import argparse

    from agent_orchestrator.cli.main import VERBS, parser

    rows = verb_rows()
    assert set(rows) == set(VERBS) | {"hook"}
    subparsers = next(a for a in parser()._actions
                      if isinstance(a, argparse._SubParsersAction))
    for name, verb_parser in subparsers.choices.items():
        if name == "hook":
            continue
        options = {o for a in verb_parser._actions for o in a.option_strings} - \
            {"-h", "--help", "--config"}
        named = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", " ".join(rows[name])))
        assert named <= options, (name, named - options)
        for action in verb_parser._actions:
            spelled = set(action.option_strings) & options
            assert not spelled or spelled & named, f"`agents {name}`: {sorted(spelled)} " \
                "not in README's verbs table"


def _without_asides(text: str) -> str:
    """The text with its (parenthesised asides) removed, innermost first."""
    while (shorter := re.sub(r"\([^()]*\)", "", text)) != text:
        text = shorter
    return text


def test_the_status_json_shape_is_true_to_the_code() -> None:
    """The README's `status --json` keys, nested keys, row fields and `state` words are the
    code's (cli/status.py), and `status NAME --json` adds what AgentDetail adds: a field
    renamed or added on either side fails here."""
    import dataclasses

    from agent_orchestrator.cli import agentstatus, status

    start = "`agents status --json` prints one document (`version` 2): "
    assert status.JSON_VERSION == 2 and start in README
    paragraph = README.split(start, 1)[1].split("Every value is null when unknown.", 1)[0]
    shape = _without_asides(paragraph)
    tables = dict(re.findall(r"`(\w+)`(?:, a list of)?\s*\{([^{}]*)\}", shape))
    top = re.findall(r"`(\w+)`", re.sub(r"\{[^{}]*\}", "", shape))
    doc = status.FleetStatus((), None, False, None).to_json()
    assert ["version", *top] == list(doc)
    nested = {key: re.findall(r"`(\w+)`", keys) for key, keys in tables.items()}
    row_fields = [f.name for f in dataclasses.fields(status.StatusRow)]
    assert nested == {**{k: list(v) for k, v in doc.items() if isinstance(v, dict)},
                      "agents": row_fields}
    # the states, in the code's order
    states = README.split("`state` is\none of ", 1)[1].split(" Services\nare rows", 1)[0]
    assert tuple(re.findall(r"`([a-z-]+)`", _without_asides(states))) == status.STATES
    # `status NAME --json`: the row's fields, then the detail's own
    row = next(line for line in README.splitlines() if line.startswith("| `agents status NAME"))
    measured, plus = re.search(r"measured here (.*?), plus (.*?) \(null when unknown\)",
                               row).groups()
    detail = [f.name for f in dataclasses.fields(agentstatus.AgentDetail) if f.name != "row"]
    assert re.findall(r"`(\w+)`", plus) + re.findall(r"`(\w+)`", measured) == \
        [name for name in detail if name not in ("pid", "cpu_pct", "rss_bytes")] + \
        ["pid", "cpu_pct", "rss_bytes"]
    assert set(re.findall(r"`(\w+)`", measured)) <= set(row_fields)


def test_readme_sections_named_elsewhere_exist() -> None:
    """`README ("X")` and `(README, X)` in the starter config, the example and the code name
    a heading that is there (the init starter once named "Configuration")."""
    import re

    headings = {line.lstrip("#").strip() for line in README.splitlines()
                if line.startswith("#")}
    named = set()
    for path in [*ROOT.joinpath("agent_orchestrator").rglob("*.py"),
                 ROOT / "agents.example.toml"]:
        text = path.read_text(encoding="utf-8")
        named |= {(path.name, m) for m in re.findall(r'README \("([^"]+)"\)', text)}
        named |= {(path.name, m) for m in re.findall(r"\(README, ([A-Z][A-Za-z ]+)\)", text)}
    assert named  # the patterns still find the references
    assert [(f, n) for f, n in sorted(named) if n not in headings] == []
