"""Fill `{placeholders}` in the user's command templates without letting a value escape.

Two kinds of template:
- argument templates (`model_flag = "--model '{model}'"`, `flags`, `bin` for arg delivery)
  are split into words FIRST (shell-like quoting rules) and the values are substituted inside
  words, so a value is part of exactly one argv element whatever it contains;
- shell templates (`bin` for exec delivery, `attach`, `preamble`) are command lines for
  /bin/sh; each value is substituted shell-quoted, replacing any quotes the user put around
  the placeholder, so it stays one word;
- the ping boot line (`render_boot_line`): prose typed to an agent, whose quoted
  `'{kickoff_file}'` must stay one word for the shell the agent runs it in.
`{kickoff}` is the kickoff FILE's path wherever it appears, as in the original tool; the
text itself is `{kickoff_text}` (exec `bin`, arg `flags`).
Only the names passed in are replaced; other braces (`${HOME}`, code in prompts) are left.
`{python}` in a backend's `bin` is filled before all of these (`fill_python`).
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterable, Mapping

# In a backend's `bin`: the interpreter running agent-orchestrator (the demo preset's).
PYTHON = "{python}"

# A value built to break out of any quoting: used to prove a template keeps values whole.
_SENTINEL = "v a'l\"u$(e)`;"


class TemplateError(ValueError):
    """A template cannot be used; the message says why, for a config error."""


def fill_python(bin_text: str, python: str | None = None) -> str:
    """`bin_text` with `{python}` replaced by this interpreter's path, so the demo agent runs
    from this environment whatever PATH the tmux server inherited; for an agent on another
    host, by that host's `python`. Inserted as is, like the rest of the user's own `bin`."""
    return bin_text.replace(PYTHON, python or sys.executable)


# What a shell command line may start with that is not the program it runs.
_NOT_A_PROGRAM = frozenset({"cd", "exec", "export", "set", "unset", "eval", "source", ".",
                            "if", "for", "while", "until", "case", "{", "(", "!", "command",
                            "builtin", "env", "nohup", "time", "umask", "ulimit", "trap"})
_ASSIGNMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def command_word(bin_text: str, shell: bool = False, python: str | None = None) -> str | None:
    """The program a backend's `bin` runs, as written (a name or a path); None when it
    cannot be told without running it. `shell`: `bin` is part of a shell command line (an
    `exec` backend's template, a `ping` backend's attach), where leading `NAME=value`
    words set the environment, and a line starting with a builtin or keyword
    (`cd {dir} && exec mycli`) or an expansion has no program to name."""
    try:
        words = split_words(fill_python(bin_text, python))
    except TemplateError:
        return None
    if shell:
        while words and _ASSIGNMENT_RE.match(words[0]):
            words = words[1:]
    if not words:
        return None
    first = words[0]
    if shell and (first in _NOT_A_PROGRAM or any(c in first for c in "$`;&|<>(){}")):
        return None
    return first


def split_words(template: str) -> list[str]:
    try:
        return shlex.split(template)
    except ValueError as exc:
        raise TemplateError(f"cannot split into words: {exc}") from None


def _placeholders(names: Iterable[str], quoted: bool) -> re.Pattern[str]:
    """One pattern for all names, so a value that itself contains `{name}` is never
    substituted again (values are inserted in a single pass)."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    bare = r"\{(" + alternatives + r")\}"
    if quoted:  # also absorb quotes the user wrote around a placeholder
        return re.compile("'" + bare + "'|\"" + bare + "\"|" + bare)
    return re.compile(bare)


def _substitute(text: str, values: Mapping[str, str], quote: bool) -> str:
    if not values:
        return text
    pattern = _placeholders(values, quoted=quote)

    def fill(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g is not None)
        return shlex.quote(values[name]) if quote else values[name]

    return pattern.sub(fill, text)


def render_words(template: str, values: Mapping[str, str],
                 omit_empty: str | None = None) -> list[str]:
    """Split `template` into argv words, then fill placeholders inside each word. With
    `omit_empty`, words holding that placeholder are left out when its value is empty."""
    words = split_words(template)
    if omit_empty is not None and not values.get(omit_empty):
        words = [w for w in words if "{" + omit_empty + "}" not in w]
    return [_substitute(word, values, quote=False) for word in words]


def render_shell(template: str, quoted: Mapping[str, str],
                 raw: Mapping[str, str] | None = None) -> str:
    """Fill a shell command line: `quoted` values are shell-quoted (with any quotes around
    their placeholder absorbed), `raw` values (the user's own `bin`) are inserted as is.
    Raw values go first: they are the user's own template text, not data."""
    return _substitute(_substitute(template, raw or {}, quote=False), quoted, quote=True)


def render_boot_line(template: str, kickoff_file: str) -> str:
    """Fill `{kickoff_file}` (or `{kickoff}`, the same path) in a ping boot line: text typed
    to an agent, which then runs the command it quotes. Inside single quotes
    (`cat '{kickoff_file}'`) the path's own `'` become `'\\''`, so the agent's shell gets
    the path as one word whatever it holds (a project folder named `it's $(x)` must not run
    `x`); elsewhere (prose) it is inserted as is. One pass: a path that itself holds
    `{kickoff_file}` is not substituted again."""
    escaped = "'" + kickoff_file.replace("'", "'\\''") + "'"
    return re.sub(r"'\{kickoff(?:_file)?\}'|\{kickoff(?:_file)?\}",
                  lambda m: escaped if m.group(0).startswith("'") else kickoff_file, template)


def check_shell_template(template: str, names: Iterable[str]) -> str | None:
    """Why `template` would let a value split or escape, or None when it is safe."""
    names = list(names)
    rendered = render_shell(template, {n: _SENTINEL for n in names})
    try:
        words = shlex.split(rendered)
    except ValueError as exc:
        return f"not a valid shell command line ({exc})"
    used = [n for n in names if "{" + n + "}" in template]
    expected = sum(template.count("{" + n + "}") for n in names)
    if sum(w.count(_SENTINEL) for w in words) != expected:
        return (f"a placeholder ({', '.join('{' + n + '}' for n in used)}) sits inside a "
                "larger quoted string; write it as a word of its own")
    return None
