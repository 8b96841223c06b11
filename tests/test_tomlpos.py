"""KeyLines: a TOML key path → the 1-based line it was written on (for `FILE:LINE:` errors).

Every expected line is found by a needle that must occur on exactly one line of the document,
so the tables read as "this path is on the line that says ...".
"""

from __future__ import annotations

import textwrap
import tomllib

import pytest

from agent_orchestrator.config.tomlpos import KeyLines, PathKey


def line_of(text: str, needle: str) -> int:
    """The 1-based number of the one line of `text` containing `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"needle {needle!r} is on lines {hits}, expected exactly one"
    return hits[0]


DOC = textwrap.dedent('''\
    # a comment that looks like a key: fake = 1
    [defaults]
    session_prefix = "t-"   # trailing comment
    "quoted key" = 1
    'literal key' = 2

    [watchdog]
    signal_interval = 5

    [backend.demo]
    flags = "--busy [5"
    active_re = 'esc to [interrupt]'

    [backend . "tool.x"]
    bin = "tool"

    [[agent]]  # first
    name = "alpha"
    prompt = """
    [not_a_table]
    watch = "this line is inside the string"
    """
    watch = "heal"

    [[agent]]  # second
    name = "beta"
    prompt = \'\'\'
    [[agent]]
    name = "inside a literal string"
    \'\'\'
    wake.interval = 60
    wake.prompt_file = "wake.md"
    model = "after the literal string"

    [[agent]]  # third
    name = "gamma"
    wake = { interval = 5, prompt_file = "w.md" }
    enabled = false

    [loop]
    roles_dir = "roles"
    phases = [   # a [comment] with brackets
      { id = "p0", status = "S0.md", models = { builder = "m" } },
      { id = "p1", status = "S1.md", verify = ["make [x]", "y"] },

      { id = "p2", status = "S2.md" },
    ]
    done_marker = "## DONE"
    verify_list = [
      "a",
      "b ]",
    ]
    state_file = "idx"
    inline_first = [ { id = "q0", status = "s" },
      { id = "q1", status = "s" },
    ]
    auto_advance = true

    [loop.handoff]
    repo = "."
    claim_pings = "adversary"
''')


def test_document_is_valid_toml() -> None:
    """Guard: the locator only has to be right for valid TOML, so the sample must be valid."""
    data = tomllib.loads(DOC)
    assert [a["name"] for a in data["agent"]] == ["alpha", "beta", "gamma"]
    assert [p["id"] for p in data["loop"]["phases"]] == ["p0", "p1", "p2"]
    assert data["agent"][1]["wake"] == {"interval": 60, "prompt_file": "wake.md"}


LOCATED: list[tuple[PathKey, str]] = [
    # plain tables and their keys
    (("defaults",), "[defaults]"),
    (("defaults", "session_prefix"), 'session_prefix = "t-"'),
    (("defaults", "quoted key"), '"quoted key" = 1'),
    (("defaults", "literal key"), "'literal key' = 2"),
    (("watchdog", "signal_interval"), "signal_interval = 5"),
    (("backend", "demo"), "[backend.demo]"),
    (("backend", "demo", "flags"), 'flags = "--busy [5"'),
    (("backend", "demo", "active_re"), "active_re = 'esc to [interrupt]'"),
    (("backend", "tool.x"), '[backend . "tool.x"]'),
    (("backend", "tool.x", "bin"), 'bin = "tool"'),
    # arrays of tables: the Nth [[agent]] and keys inside it
    (("agent",), "[[agent]]  # first"),
    (("agent", 0), "[[agent]]  # first"),
    (("agent", 1), "[[agent]]  # second"),
    (("agent", 2), "[[agent]]  # third"),
    (("agent", 0, "name"), 'name = "alpha"'),
    (("agent", 1, "name"), 'name = "beta"'),
    (("agent", 2, "name"), 'name = "gamma"'),
    (("agent", 2, "enabled"), "enabled = false"),
    # keys after multi-line strings ("""...""" and '''...''')
    (("agent", 0, "prompt"), 'prompt = """'),
    (("agent", 0, "watch"), 'watch = "heal"'),
    (("agent", 1, "prompt"), "prompt = '''"),
    (("agent", 1, "model"), 'model = "after the literal string"'),
    # dotted keys
    (("agent", 1, "wake", "interval"), "wake.interval = 60"),
    (("agent", 1, "wake", "prompt_file"), 'wake.prompt_file = "wake.md"'),
    # an inline table value: the key's own line
    (("agent", 2, "wake"), "wake = { interval = 5"),
    # multi-line arrays of inline tables: each element, and the keys after the array
    (("loop", "roles_dir"), 'roles_dir = "roles"'),
    (("loop", "phases"), "phases = ["),
    (("loop", "phases", 0), '{ id = "p0"'),
    (("loop", "phases", 1), '{ id = "p1"'),
    (("loop", "phases", 2), '{ id = "p2"'),
    (("loop", "done_marker"), 'done_marker = "## DONE"'),
    # a multi-line array of strings holding a bracket
    (("loop", "verify_list"), "verify_list = ["),
    (("loop", "state_file"), 'state_file = "idx"'),
    # an inline table opened on the key's own line is element 0
    (("loop", "inline_first", 0), "inline_first = ["),
    (("loop", "inline_first", 1), '{ id = "q1"'),
    (("loop", "auto_advance"), "auto_advance = true"),
    # a sub-table of a table
    (("loop", "handoff"), "[loop.handoff]"),
    (("loop", "handoff", "claim_pings"), 'claim_pings = "adversary"'),
]


@pytest.mark.parametrize(("path", "needle"), LOCATED,
                         ids=[".".join(map(str, p)) for p, _ in LOCATED])
def test_key_is_found_on_its_line(path: PathKey, needle: str) -> None:
    assert KeyLines(DOC).line(path) == line_of(DOC, needle)


FALLBACKS: list[tuple[PathKey, str]] = [
    # a key that was never written: its table's header
    (("defaults", "log_dir"), "[defaults]"),
    (("watchdog", "crash_limit"), "[watchdog]"),
    # a key of the Nth [[agent]] that was not written: that agent's header
    (("agent", 1, "backend"), "[[agent]]  # second"),
    (("agent", 2, "watch"), "[[agent]]  # third"),
    # a key inside an inline table: the inline table's key
    (("agent", 2, "wake", "interval"), "wake = { interval = 5"),
    # a key inside a phase: the phase's element line
    (("loop", "phases", 1, "verify"), '{ id = "p1"'),
    (("loop", "phases", 2, "models", "builder"), '{ id = "p2"'),
    (("loop", "handoff", "review_pings"), "[loop.handoff]"),
    # an element index past the end: the array's key
    (("loop", "phases", 7), "phases = ["),
]


@pytest.mark.parametrize(("path", "needle"), FALLBACKS,
                         ids=[".".join(map(str, p)) for p, _ in FALLBACKS])
def test_unwritten_path_falls_back_to_nearest_parent(path: PathKey, needle: str) -> None:
    assert KeyLines(DOC).line(path) == line_of(DOC, needle)


@pytest.mark.parametrize("path", [("nowhere",), ("nowhere", "key"), ()],
                         ids=["missing-table", "missing-table-key", "empty-path"])
def test_path_with_no_written_parent_is_none(path: PathKey) -> None:
    assert KeyLines(DOC).line(path) is None


def test_keys_inside_multiline_strings_are_not_keys() -> None:
    """`watch = ...` and `[not_a_table]` inside prompt = \"\"\"...\"\"\" must not be recorded."""
    lines = KeyLines(DOC)
    assert lines.line(("not_a_table",)) is None
    assert lines.line(("not_a_table", "watch")) is None
    # the `[[agent]]` inside the '''...''' string did not start an agent: the third real
    # header is still agent 2, and a key of that string is nowhere
    assert lines.line(("agent", 2)) == line_of(DOC, "[[agent]]  # third")
    assert lines.line(("agent", 1, "name")) == line_of(DOC, 'name = "beta"')


def test_array_of_tables_for_phases() -> None:
    text = textwrap.dedent("""\
        [loop]
        roles_dir = "r"

        [[loop.phases]]
        id = "p0"
        status = "s0"

        [[loop.phases]]
        id = "p1"
        status = "s1"
    """)
    lines = KeyLines(text)
    assert lines.line(("loop", "phases", 0)) == 4
    assert lines.line(("loop", "phases", 1)) == 8
    assert lines.line(("loop", "phases", 1, "status")) == 10
    assert lines.line(("loop", "phases", 1, "plan")) == 8


def test_same_key_in_two_tables() -> None:
    text = 'a = 1\n[t]\nx = 1\n[u]\nx = 2\n'
    lines = KeyLines(text)
    assert lines.line(("a",)) == 1
    assert lines.line(("t", "x")) == 3
    assert lines.line(("u", "x")) == 5


def test_empty_document() -> None:
    assert KeyLines("").line(("defaults",)) is None


# ------------------------------------------------------------- regressions (each was a bug)


@pytest.mark.parametrize("line", [
    "prompt = 'say \"\"\" here'",
    'prompt = "x"  # a comment with """ in it',
], ids=["in-literal-string", "in-comment"])
def test_triple_quote_inside_single_line_value(line: str) -> None:
    text = f'[[agent]]\nname = "a"\n{line}\nwatch = "heal"\n'
    assert tomllib.loads(text)["agent"][0]["watch"] == "heal"
    assert KeyLines(text).line(("agent", 0, "watch")) == 4


def test_subtable_of_array_table_entry() -> None:
    text = textwrap.dedent("""\
        [[agent]]
        name = "a"

        [agent.wake]
        interval = 0
    """)
    assert tomllib.loads(text)["agent"][0]["wake"] == {"interval": 0}
    lines = KeyLines(text)
    assert lines.line(("agent", 0, "wake")) == 4
    assert lines.line(("agent", 0, "wake", "interval")) == 5


def test_two_inline_tables_on_one_line_of_a_multiline_array() -> None:
    text = textwrap.dedent("""\
        [loop]
        phases = [
          { id = "a", status = "s" }, { id = "b", status = "s" },
          { id = "c", status = "s" },
        ]
    """)
    assert len(tomllib.loads(text)["loop"]["phases"]) == 3
    lines = KeyLines(text)
    assert [lines.line(("loop", "phases", i)) for i in range(3)] == [3, 3, 4]


def test_dotted_key_prefix_is_located() -> None:
    text = '[[agent]]\nname = "a"\nwake.interval = 60\n'
    assert KeyLines(text).line(("agent", 0, "wake")) == 3
