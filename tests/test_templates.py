"""Placeholder filling: a value must stay exactly one argv word whatever it contains.

render_words fills argument templates after splitting them into words; render_shell fills
/bin/sh command lines with shell-quoted values; check_shell_template rejects shell templates
that would let a value split. The strongest checks run the rendered line through a real
/bin/sh (no tmux) and look for files a hostile value tried to create.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from agent_orchestrator.config.templates import (
    TemplateError,
    check_shell_template,
    fill_python,
    render_shell,
    render_words,
    split_words,
)

# Quotes of both kinds, a space, command substitution (both spellings), `;`, a newline.
HOSTILE = "a b'\"$(touch x); touch y\n`touch z` {not_a_name} ${HOME}"
TRAPS = ("x", "y", "z")


def run_sh(line: str, cwd: Path) -> str:
    """Run a rendered command line with /bin/sh in `cwd`; return its stdout."""
    result = subprocess.run(["/bin/sh", "-c", line], cwd=cwd, capture_output=True,
                            text=True, check=True, timeout=10)
    return result.stdout


# ----------------------------------------------------------------------------- render_words

WORDS_CASES = [
    ("single-quoted", "--model '{model}'", ["--model", HOSTILE]),
    ("double-quoted", '--model "{model}"', ["--model", HOSTILE]),
    ("bare", "--model {model}", ["--model", HOSTILE]),
    ("glued-to-flag", "--model={model}", ["--model=" + HOSTILE]),
    ("inside-quoted-text", "--say 'hello {model} bye'", ["--say", f"hello {HOSTILE} bye"]),
    ("twice", "{model} {model}", [HOSTILE, HOSTILE]),
    ("no-placeholder", "--busy 5", ["--busy", "5"]),
    ("empty-template", "", []),
]


@pytest.mark.parametrize(("template", "expected"), [c[1:] for c in WORDS_CASES],
                         ids=[c[0] for c in WORDS_CASES])
def test_render_words_keeps_a_hostile_value_in_one_word(template: str,
                                                        expected: list[str]) -> None:
    assert render_words(template, {"model": HOSTILE}) == expected


def test_render_words_fills_several_names() -> None:
    words = render_words("--remote-control '{session}' --model '{model}' --dir={dir}",
                         {"session": "t-alpha", "model": "big model", "dir": "/p q"})
    assert words == ["--remote-control", "t-alpha", "--model", "big model", "--dir=/p q"]


def test_render_words_leaves_names_not_passed() -> None:
    words = render_words("--env ${HOME} --x {other} --m {model}", {"model": "m"})
    assert words == ["--env", "${HOME}", "--x", "{other}", "--m", "m"]


@pytest.mark.parametrize("template", ["--a 'b", '--a "b', "--a \\"],
                         ids=["open-single", "open-double", "trailing-backslash"])
def test_unsplittable_template_raises_template_error(template: str) -> None:
    with pytest.raises(TemplateError, match=r"^cannot split into words: "):
        render_words(template, {})
    with pytest.raises(TemplateError, match=r"^cannot split into words: "):
        split_words(template)


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


# ----------------------------------------------------------------------------- render_shell

SHELL_CASES = [
    ("bare", "printf '%s\\n' {v}"),
    ("single-quoted", "printf '%s\\n' '{v}'"),
    ("double-quoted", 'printf \'%s\\n\' "{v}"'),
]


@pytest.mark.parametrize("template", [c[1] for c in SHELL_CASES],
                         ids=[c[0] for c in SHELL_CASES])
def test_render_shell_value_is_one_shell_word(template: str) -> None:
    line = render_shell(template, {"v": HOSTILE})
    assert shlex.split(line) == ["printf", "%s\\n", HOSTILE]


@pytest.mark.parametrize("template", [c[1] for c in SHELL_CASES],
                         ids=[c[0] for c in SHELL_CASES])
def test_render_shell_value_survives_a_real_shell(template: str, tmp_path: Path) -> None:
    out = run_sh(render_shell(template, {"v": HOSTILE}), tmp_path)
    assert out == HOSTILE + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no x, y or z was touched


def test_render_shell_several_values_and_words(tmp_path: Path) -> None:
    template = "printf '[%s]' {a} '{b}' \"{c}\" --tail"
    values = {"a": "one two", "b": "it's", "c": 'say "hi"; $(touch x)'}
    line = render_shell(template, values)
    assert shlex.split(line) == ["printf", "[%s]", "one two", "it's", 'say "hi"; $(touch x)',
                                 "--tail"]
    assert run_sh(line, tmp_path) == "[one two][it's][say \"hi\"; $(touch x)][--tail]"
    assert not (tmp_path / "x").exists()


def test_render_shell_empty_value_is_still_one_word() -> None:
    assert shlex.split(render_shell("cmd {v} end", {"v": ""})) == ["cmd", "", "end"]


def test_render_shell_leaves_names_not_passed() -> None:
    template = "cd ${HOME} && run {v} {other} '{other}' $HOME"
    assert render_shell(template, {"v": "x"}) == "cd ${HOME} && run x {other} '{other}' $HOME"


def test_render_shell_inserts_raw_values_as_written() -> None:
    """`raw` values are the user's own shell text (e.g. `bin`): not quoted."""
    line = render_shell("{bin} --dir {dir}", {"dir": "/a b"}, raw={"bin": "FOO=1 tool -v"})
    assert line == "FOO=1 tool -v --dir '/a b'"
    assert shlex.split(line) == ["FOO=1", "tool", "-v", "--dir", "/a b"]


def test_render_shell_value_containing_another_placeholder(tmp_path: Path) -> None:
    line = render_shell("printf '%s|' {a} {b}", {"a": "x {b} y", "b": "$(touch x)"})
    assert shlex.split(line) == ["printf", "%s|", "x {b} y", "$(touch x)"]
    assert run_sh(line, tmp_path) == "x {b} y|$(touch x)|"
    assert not (tmp_path / "x").exists()


def test_render_words_value_containing_another_placeholder() -> None:
    assert render_words("--a {a} --b {b}", {"a": "{b}", "b": "X"}) == ["--a", "{b}", "--b", "X"]


# ----------------------------------------------------------------------------- check_shell_template

NAMES = ("kickoff", "kickoff_file", "session", "model", "dir", "id")
SAFE = [
    ("single-quoted", "mycli '{kickoff}'"),
    ("double-quoted", 'mycli "{kickoff}"'),
    ("bare", "mycli {kickoff}"),
    ("several", "mycli --session {session} --model '{model}' --file \"{kickoff_file}\""),
    ("shell-syntax", "cd {dir} && exec mycli {kickoff} 2>&1 | tee log"),
    ("glued-to-flag", "mycli --model={model} --dir='{dir}'"),
    ("no-placeholder", "mycli --help"),
    ("unknown-braces", "mycli ${HOME} {unknown}"),
]
SAFE_FILLED = [c for c in SAFE if any("{" + n + "}" in c[1] for n in NAMES)]
UNSAFE = [
    ("in-single-quoted-text", "mycli 'say {kickoff} now'",
     "a placeholder ({kickoff}) sits inside a larger quoted string; "
     "write it as a word of its own"),
    ("in-double-quoted-text", 'mycli "say {kickoff}"',
     "a placeholder ({kickoff}) sits inside a larger quoted string; "
     "write it as a word of its own"),
    ("two-in-one-quoted-text", "mycli '{session}:{model}'",
     "a placeholder ({session}, {model}) sits inside a larger quoted string; "
     "write it as a word of its own"),
    ("open-quote", "mycli 'x {kickoff}",
     "not a valid shell command line (No closing quotation)"),
]


@pytest.mark.parametrize("template", [c[1] for c in SAFE], ids=[c[0] for c in SAFE])
def test_check_shell_template_accepts(template: str) -> None:
    assert check_shell_template(template, NAMES) is None


@pytest.mark.parametrize(("template", "why"), [c[1:] for c in UNSAFE],
                         ids=[c[0] for c in UNSAFE])
def test_check_shell_template_rejects(template: str, why: str) -> None:
    assert check_shell_template(template, NAMES) == why


@pytest.mark.parametrize("template", [c[1] for c in SAFE_FILLED], ids=[c[0] for c in SAFE_FILLED])
def test_accepted_templates_really_keep_values_whole(template: str) -> None:
    """What check_shell_template accepts, render_shell renders with every value one word."""
    line = render_shell(template, {n: HOSTILE for n in NAMES})
    expected = sum(template.count("{" + n + "}") for n in NAMES)
    assert sum(word.count(HOSTILE) for word in shlex.split(line)) == expected


# ----------------------------------------------------------------------------- {python}

def test_fill_python_names_this_interpreter() -> None:
    assert fill_python("{python} -m agent_orchestrator.fakeagent --model '{model}'") == (
        f"{sys.executable} -m agent_orchestrator.fakeagent --model '{{model}}'")
    assert fill_python("claude") == "claude"


def test_fill_python_output_runs_this_interpreter(tmp_path: Path) -> None:
    words = split_words(fill_python("{python} -c 'import sys; print(sys.executable)'"))
    assert run_sh(shlex.join(words), tmp_path).strip() == sys.executable


def test_boot_line_kickoff_is_the_file_path_like_kickoff_file() -> None:
    from agent_orchestrator.config.templates import render_boot_line

    path = "/p/it's $(x)/kickoff-a.txt"
    line = render_boot_line("read {kickoff}, run `cat '{kickoff}'` or `cat '{kickoff_file}'`",
                            path)
    quoted = "'/p/it'\\''s $(x)/kickoff-a.txt'"
    assert line == f"read {path}, run `cat {quoted}` or `cat {quoted}`"
