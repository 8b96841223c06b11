"""screen.classify, dialog_line and submitted against real captures (tests/fixtures/screens, copied
byte-identical from the shared reference) and fakeagent-shaped screens for the demo preset."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Backend, UserRegex
from agent_orchestrator.core.screen import (
    ScreenView,
    classify,
    dialog_line,
    is_echo,
    screen_lines,
    strip_ansi,
    submitted,
)

FIXTURES = Path(__file__).parent / "fixtures" / "screens"
BERLIN = ZoneInfo("Europe/Berlin")
# Shortly before the captures' limits reset (Codex printed "try again at 7:49 AM" at 05:49).
NOW = datetime(2026, 11, 21, 6, 50, tzinfo=BERLIN)


def backend(name: str, *, active: str | None = None, limit: str | None = None,
            fatal: str | None = None, prompt: str | None = None,
            footer_ui: bool = False, gutter: str = "") -> Backend:
    def pattern(text: str | None) -> UserRegex | None:
        return UserRegex(text) if text else None

    return Backend(name=name, bin=name, active_re=pattern(active), limit_re=pattern(limit),
                   fatal_re=pattern(fatal), prompt_re=pattern(prompt), footer_ui=footer_ui,
                   message_gutter=gutter)


# Hand-written from agent-cli-signals.md and checked against the captures; the real presets
# come later. Note Codex's curly apostrophe (You’ve) in its banner.
BACKENDS = {
    "claude": backend(
        "claude",
        active=r"esc to interrupt|ctrl\+c to interrupt",
        limit=r"You've hit your (?:\w+ )?limit|Claude (?:AI )?usage limit reached"
              r"|(?:5-hour|session|weekly|Opus) limit reached|^\s*Usage limit reached\s*$",
        fatal=r"API Error: 401|authentication_error|Invalid API key|Credit balance is too low",
        prompt=r"Do you want to (?:proceed|make this edit|create|allow)"
               r"|Yes, I trust this folder|Do you trust the files in this folder"
               r"|Yes, I accept|↑/↓ to navigate",
        footer_ui=True),
    "codex": backend(
        "codex",
        active=r"esc to interrupt",
        limit=r"You[’']ve hit your usage limit",
        fatal=r"401 Unauthorized|ran out of room in the model's context window",
        prompt=r"Would you like to (?:run|make|grant)|Press enter to confirm"
               r"|Trust this folder\?|Do you trust the contents of this directory",
        footer_ui=True),
    "gemini": backend(
        "gemini",
        active=r"esc to cancel",
        limit=r"Usage limit reached|exhausted your daily quota|reached your daily \S+ quota",
        fatal=r"Invalid session identifier|API key not valid",
        prompt=r"Allow execution of|Apply this change\?|Do you trust the files in this folder"
               r"|Waiting for user confirmation",
        footer_ui=True),
    "opencode": backend(
        "opencode",
        active=r"esc interrupt",
        limit=r"usage limit has been reached|requires more credits"
              r"|(?:Usage|Free|Go) limit reached|Free usage exceeded",
        fatal=r"API key not valid",
        prompt=r"△ Permission required|enter confirm|esc dismiss",
        footer_ui=True, gutter="┃"),
}


def fixture(cli: str, name: str) -> str:
    return (FIXTURES / cli / f"{name}.txt").read_text(encoding="utf-8")


class Ref(NamedTuple):
    cli: str
    name: str
    state: str
    line: str | None = None  # the line that decided the state (None for idle)


REFERENCE = [
    Ref("claude", "idle", "idle"),
    Ref("claude", "working", "active", "esc to interrupt · ← for agents ● high · /effort"),
    Ref("claude", "answered", "idle"),
    Ref("claude", "permission", "dialog", "Do you want to proceed?"),
    Ref("claude", "trust_prompt", "dialog", "❯ 1. Yes, I trust this folder"),
    Ref("claude", "ratelimit_final", "idle"),  # "(not your usage limit)"
    Ref("claude", "overloaded_final", "idle"),  # the limit banner is a turn old
    Ref("claude", "error500_final", "idle"),  # the limit banner is two turns old
    Ref("claude", "usage_limit_final", "limited",
        "⎿ \xa0You've hit your session limit · resets 7:58am (UTC)"),
    Ref("codex", "idle", "idle"),
    Ref("codex", "working", "active", "• Working (0s • esc to interrupt)"),
    Ref("codex", "answered", "idle"),
    Ref("codex", "answered_after_2nd_enter", "idle"),
    Ref("codex", "enter_swallowed_at_startup", "idle"),
    Ref("codex", "permission", "dialog", "Press enter to confirm or esc to cancel"),
    Ref("codex", "trust_prompt", "dialog",
        "Trust this folder? Codex can read, edit, and run files here, subject to your "
        "permission settings. Folder settings"),
    Ref("codex", "ratelimit_final", "idle"),
    Ref("codex", "overloaded_final", "idle"),  # banner a turn old, "⚠ 5h limit" warning
    Ref("codex", "error500_final", "idle"),
    Ref("codex", "usage_limit_final", "limited",
        "■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), "
        "visit https://chatgpt.com/settings/"),
    Ref("gemini", "idle", "idle"),
    Ref("gemini", "working", "active", "⠴ Thinking... (esc to cancel, 3s) ? for shortcuts"),
    Ref("gemini", "answered", "idle"),
    Ref("gemini", "permission", "dialog", "Allow execution of [Shell]?"),
    Ref("gemini", "trust_prompt", "dialog", "Do you trust the files in this folder?"),
    Ref("gemini", "ratelimit_at_6s", "active"),
    Ref("gemini", "ratelimit_after_150s", "active"),
    Ref("gemini", "overloaded_at_6s", "active"),
    Ref("gemini", "overloaded_after_150s", "active"),
    Ref("gemini", "error500_at_6s", "active"),
    Ref("gemini", "error500_after_150s", "active"),
    Ref("gemini", "usage_limit_final", "limited", "Usage limit reached for gemini-2.5-flash."),
    Ref("gemini", "usage_limit_after_escape", "limited",
        "Usage limit reached for gemini-2.5-flash."),
    Ref("gemini", "usage_limit_stopped", "limited",
        "✕ [API Error: You have exhausted your daily quota on this model.]"),
    Ref("opencode", "idle", "idle"),
    Ref("opencode", "working", "active", "■■■■⬝⬝⬝⬝ esc interrupt tab agents ctrl+p commands"),
    Ref("opencode", "answered", "idle"),
    Ref("opencode", "permission", "dialog",
        "Allow once Allow always Reject ctrl+f fullscreen ⇆ select enter confirm"),
    Ref("opencode", "ratelimit_final", "idle"),
    Ref("opencode", "error500_final", "idle"),
    Ref("opencode", "usage_limit_final", "limited", "The usage limit has been reached"),
]


def decisive_line(view: ScreenView) -> str | None:
    return {"fatal": view.fatal_line, "active": view.active_line, "dialog": view.dialog_line,
            "limited": view.limit_line, "idle": None}[view.state]


def squeeze(line: str | None) -> str | None:
    """`line` with runs of spaces shown as one (footers pad to the pane width)."""
    return re.sub(" {2,}", " ", line) if line is not None else None


@pytest.mark.parametrize("ref", REFERENCE, ids=[f"{r.cli}-{r.name}" for r in REFERENCE])
def test_reference_screens(ref: Ref) -> None:
    view = classify(fixture(ref.cli, ref.name), BACKENDS[ref.cli], NOW)
    assert view.state == ref.state
    if ref.line is not None:
        assert squeeze(decisive_line(view)) == squeeze(ref.line)
    if ref.state == "idle":
        assert view == ScreenView("idle", None, None, None, None, None, None)


def test_every_fixture_is_covered() -> None:
    covered = {(r.cli, r.name) for r in REFERENCE} | {("opencode", "overloaded_final")}
    on_disk = {(p.parent.name, p.stem) for p in FIXTURES.glob("*/*.txt")}
    assert on_disk == covered


def test_opencode_stale_usage_banner() -> None:
    view = classify(fixture("opencode", "overloaded_final"), BACKENDS["opencode"], NOW)
    assert view.state == "idle"


def test_claude_usage_limit_reset() -> None:
    view = classify(fixture("claude", "usage_limit_final"), BACKENDS["claude"], NOW)
    assert view.reset_at == datetime(2026, 11, 21, 7, 58, tzinfo=UTC)
    assert view.dialog_line is None  # the "Stop and wait for limit to reset" menu


def test_claude_limit_menu_is_a_dialog_when_prompt_re_matches_it() -> None:
    wide = backend("claude", active=r"esc to interrupt", limit=r"You've hit your (?:\w+ )?limit",
                   prompt=r"Enter to confirm", footer_ui=True)
    view = classify(fixture("claude", "usage_limit_final"), wide, NOW)
    assert view.state == "dialog"  # dialog outranks limited ...
    assert view.dialog_line == "Enter to confirm · Esc to cancel"
    assert view.reset_at == datetime(2026, 11, 21, 7, 58, tzinfo=UTC)  # ... the reset is kept


def test_claude_rate_limit_is_not_a_usage_limit() -> None:
    screen = fixture("claude", "ratelimit_final")
    assert "(not your usage limit)" in screen
    view = classify(screen, BACKENDS["claude"], NOW)
    assert view.limit_line is None and view.reset_at is None


def test_codex_usage_limit_reset_from_wrapped_line() -> None:
    view = classify(fixture("codex", "usage_limit_final"), BACKENDS["codex"], NOW)
    assert view.reset_at == datetime(2026, 11, 21, 7, 49, tzinfo=BERLIN)
    assert view.dialog_line is None  # the "Switch to gpt-6-luna" menu under the banner


def test_stale_banner_above_a_later_prompt_does_not_count() -> None:
    for cli in ("claude", "codex"):
        screen = fixture(cli, "overloaded_final")
        assert BACKENDS[cli].limit_re.search(screen)  # the banner is on screen ...
        assert classify(screen, BACKENDS[cli], NOW).limit_line is None  # ... but a turn old


def test_gemini_limit_reset_unreadable() -> None:
    view = classify(fixture("gemini", "usage_limit_stopped"), BACKENDS["gemini"], NOW)
    assert view.reset_at is None


# ----------------------------------------------------------------- fakeagent-shaped screens

NBSP = "\xa0"
RULE = "─" * 80
BANNER = [" ▐▛███▜▌   Demo Agent (agent-orchestrator fakeagent)",
          "▝▜█████▛▘  demo-model · demo",
          "  ▘▘ ▝▝    /home/dev/work/proj"]
SPINNER = "✢ Warping… (3s · esc to interrupt)"
LIMIT = f"  ⎿ {NBSP}You've hit your session limit · resets 7:58am (UTC)"
FATAL = (f'  ⎿ {NBSP}API Error: 401 {{"type":"error","error":{{"type":"authentication_error",'
         '"message":"Invalid authentication credentials"}} · Please run /login')


def fake_screen(*history: str, busy: bool = False, typed: str = "",
                blank_rows: int = 12) -> str:
    """A screen shaped like fakeagent's render(): banner, history, spinner, box, footer."""
    rows = [*BANNER, "", *history]
    if busy:
        rows += ["", SPINNER]
    rows += ["", RULE, f"❯{NBSP}{typed}", RULE,
             "  esc to interrupt" if busy else "  ? for shortcuts"]
    return "\n".join(rows + [""] * blank_rows)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "agents.toml"
    path.write_text('[defaults]\nsession_prefix = "t-"\nlog_dir = "logs"\n'
                    '[[agent]]\nname = "a"\nbackend = "demo"\n', encoding="utf-8")
    return config_mod.load(path).backend("demo")


def test_demo_idle(demo: Backend) -> None:
    view = classify(fake_screen("", "❯ fix the tests", "", "● Done: fix the tests", "",
                                "✻ Worked for 3s"), demo, NOW)
    assert view == ScreenView("idle", None, None, None, None, None, None)


def test_demo_busy(demo: Backend) -> None:
    view = classify(fake_screen("", "❯ fix the tests", busy=True), demo, NOW)
    assert view.state == "active"
    assert view.active_line == "esc to interrupt"  # the footer, bottom-most


def test_demo_limit(demo: Backend) -> None:
    view = classify(fake_screen("", "❯ fix the tests", LIMIT, "", "✻ Worked for 3s"), demo, NOW)
    assert view.state == "limited"
    assert view.limit_line == f"⎿ {NBSP}You've hit your session limit · resets 7:58am (UTC)"
    assert view.reset_at == datetime(2026, 11, 21, 7, 58, tzinfo=UTC)


def test_demo_limit_cleared_by_next_prompt(demo: Backend) -> None:
    screen = fake_screen("", "❯ fix the tests", LIMIT, "", "❯ continue", busy=True)
    view = classify(screen, demo, NOW)
    assert (view.state, view.limit_line) == ("active", None)


def test_demo_fatal(demo: Backend) -> None:
    view = classify(fake_screen("", "❯ fix the tests", FATAL), demo, NOW)
    assert view.state == "fatal"
    assert view.fatal_line == FATAL.strip()


def test_demo_fatal_outranks_active(demo: Backend) -> None:
    view = classify(fake_screen("", "❯ fix the tests", FATAL, busy=True), demo, NOW)
    assert view.state == "fatal" and view.active_line == "esc to interrupt"


def test_demo_banner_behind_live_spinner_is_active(demo: Backend) -> None:
    view = classify(fake_screen("", "❯ fix the tests", LIMIT, busy=True), demo, NOW)
    assert view.state == "active"
    assert view.limit_line is not None  # in-flight retry: still reported
    assert view.reset_at == datetime(2026, 11, 21, 7, 58, tzinfo=UTC)


def test_demo_dialog_outranks_limit(demo: Backend) -> None:
    screen = fake_screen("", "❯ fix the tests", LIMIT, "", " Bash command", "",
                         " Do you want to proceed?", " ❯ 1. Yes", "   2. No")
    view = classify(screen, demo, NOW)
    assert (view.state, view.dialog_line) == ("dialog", "Do you want to proceed?")
    assert view.limit_line is not None


def test_demo_echoed_prompt_is_not_a_banner(demo: Backend) -> None:
    screen = fake_screen("", "❯ explain You've hit your session limit · resets 3pm", busy=True)
    view = classify(screen, demo, NOW)
    assert view.limit_line is None
    idle = fake_screen("", "❯ Please run /login · API Error: 401 means what?")
    assert classify(idle, demo, NOW).state == "idle"


def test_unsent_text_in_the_composer_is_not_a_banner() -> None:
    # Codex's composer looks like an echoed prompt (`› text`); typed text that mentions the
    # limit (as in enter_swallowed_at_startup.txt) is neither a banner nor a new turn.
    screen = fixture("codex", "enter_swallowed_at_startup").replace(
        "› Please say hello (working-state test)", "› why did You’ve hit your usage limit show?")
    assert "› why did" in screen
    assert classify(screen, BACKENDS["codex"], NOW).state == "idle"


def test_demo_typed_placeholder_is_not_a_new_turn(demo: Backend) -> None:
    screen = fake_screen("", "❯ fix the tests", LIMIT, typed='Try "refactor cli.ts"')
    assert classify(screen, demo, NOW).state == "limited"


def test_demo_waiting_marker(demo: Backend) -> None:
    screen = fake_screen("", "❯ sleep until the build", "", "WAITING-UNTIL: 2026-11-21T09:00:00Z")
    view = classify(screen, demo, NOW)
    assert view.state == "idle"
    assert view.waiting_until == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


# ------------------------------------------------------- typing: dialog up? text submitted?

DEMO_ACTIVE = UserRegex(r"esc to interrupt")
PROCEED = UserRegex(r"Do you want to proceed\?")
HELLO = "Please say hello (working-state test)"
LONG = "word " * 60 + "the very end of the text"  # wider than the box: only its tail shows


class Sent(NamedTuple):
    id: str
    screen: str
    text: str
    active_re: UserRegex | None
    expected: bool


SENT_CASES = [
    Sent("demo-text-in-the-box", fake_screen("", "✻ Worked for 3s", typed="please go on"),
         "please go on", DEMO_ACTIVE, False),
    Sent("demo-box-empty-echo-above", fake_screen("", "❯ please go on", "", "● Done: ok"),
         "please go on", DEMO_ACTIVE, True),
    Sent("demo-busy-with-text-in-the-box", fake_screen("", "❯ a", busy=True, typed="next one"),
         "next one", DEMO_ACTIVE, True),
    Sent("demo-busy-unknown-without-active-re",
         fake_screen("", "❯ a", busy=True, typed="next one"), "next one", None, False),
    Sent("multi-line-last-line-probed", fake_screen(typed="second line"),
         "first line\nsecond line\n\n", DEMO_ACTIVE, False),
    Sent("long-text-tail-in-the-box", fake_screen(typed=LONG[-70:]), LONG, DEMO_ACTIVE, False),
    Sent("nothing-visible", fake_screen(typed=""), " \n\t\n", DEMO_ACTIVE, True),
    Sent("codex-enter-swallowed", fixture("codex", "enter_swallowed_at_startup"), HELLO,
         BACKENDS["codex"].active_re, False),
    Sent("codex-working", fixture("codex", "working"), HELLO, BACKENDS["codex"].active_re,
         True),
    Sent("codex-answered", fixture("codex", "answered_after_2nd_enter"), HELLO,
         BACKENDS["codex"].active_re, True),
    Sent("claude-working", fixture("claude", "working"), HELLO, BACKENDS["claude"].active_re,
         True),
]


@pytest.mark.parametrize("case", SENT_CASES, ids=[c.id for c in SENT_CASES])
def test_submitted(case: Sent) -> None:
    assert submitted(case.screen, case.text, case.active_re) is case.expected


class Dialog(NamedTuple):
    id: str
    screen: str
    expected: str | None


DIALOG_CASES = [
    Dialog("dialog-up", fake_screen("", " Bash command", "", " Do you want to proceed?",
                                    " ❯ 1. Yes", "   2. No"), "Do you want to proceed?"),
    Dialog("echoed-prompt-is-no-dialog", fake_screen("", "❯ Do you want to proceed? say yes"),
           None),
    Dialog("scrolled-past-the-scan-lines",
           fake_screen("", " Do you want to proceed?", *[f"● line {n}" for n in range(15)]),
           None),
    Dialog("none", fake_screen("", "● Done: ok"), None),
]


@pytest.mark.parametrize("case", DIALOG_CASES, ids=[c.id for c in DIALOG_CASES])
def test_dialog_line(case: Dialog) -> None:
    assert dialog_line(case.screen, PROCEED) == case.expected
    assert classify(case.screen, backend("d", prompt=PROCEED.pattern), NOW).dialog_line \
        == case.expected  # the rule classify uses


def test_dialog_line_without_a_pattern() -> None:
    assert dialog_line(fake_screen("", " Do you want to proceed?"), None) is None


# ------------------------------------------------------------ current turn / bottom of screen

def claude_screen(*history: str) -> str:
    return fake_screen(*history).replace("Demo Agent (agent-orchestrator fakeagent)",
                                         "Claude Code v2.1.197")


PROSE = "● I added handling for \"You've hit your usage limit\" banners in the detector."
REPLY = [f"  {n}. changed module number {n}" for n in range(1, 17)]


def test_prose_far_up_is_not_a_limit() -> None:
    screen = claude_screen("", "❯ add limit handling", "", PROSE, *REPLY, "", "✻ Worked for 45s")
    view = classify(screen, BACKENDS["claude"], NOW)
    assert (view.state, view.limit_line) == ("idle", None)


def test_prose_in_the_bottom_lines_does_count() -> None:
    # Control for the test above: the same line inside the last 15 non-empty lines is read.
    screen = claude_screen("", "❯ add limit handling", "", *REPLY, PROSE, "", "✻ Worked for 45s")
    assert classify(screen, BACKENDS["claude"], NOW).state == "limited"


def test_limit_warnings_are_skipped() -> None:
    broad = backend("claude", limit=r"usage limit|\blimit\b")
    warned = claude_screen("", "❯ go on", "", "● Done.", "  ⎿  Approaching usage limit · resets "
                           "at 2am", "⚠ Heads up, you've used over 75% of your 5h limit. Run "
                           "/status for a breakdown.")
    assert classify(warned, broad, NOW).limit_line is None
    hit = claude_screen("", "❯ go on", "", "  ⎿  5-hour limit reached ∙ resets 9am")
    view = classify(hit, broad, NOW)
    assert view.limit_line == "⎿  5-hour limit reached ∙ resets 9am"
    assert view.reset_at == datetime(2026, 11, 21, 9, 0, tzinfo=BERLIN)


def test_wrapped_banner_reset_on_next_line() -> None:
    screen = claude_screen("", "❯ go on", "",
                           "  ⎿  Claude usage limit reached. Your limit will reset",
                           "     at 3pm (America/Santiago).")
    view = classify(screen, BACKENDS["claude"], NOW)
    assert view.limit_line == "⎿  Claude usage limit reached. Your limit will reset"
    assert view.reset_at == datetime(2026, 11, 21, 15, 0, tzinfo=ZoneInfo("America/Santiago"))


def test_footer_ui_only_bottom_rows_count_for_active() -> None:
    screen = claude_screen("", "❯ go on", "", "● Earlier the footer said: press esc to interrupt",
                           *REPLY[:8])
    lines = screen_lines(screen)
    assert len(lines) - next(i for i, x in enumerate(lines) if "esc to interrupt" in x) > 10
    plain = backend("claude", active=r"esc to interrupt")
    footer = backend("claude", active=r"esc to interrupt", footer_ui=True)
    assert classify(screen, plain, NOW).state == "active"
    assert classify(screen, footer, NOW).state == "idle"


def test_ansi_is_stripped() -> None:
    screen = ("\x1b[2J\x1b[H\x1b]0;codex\x07› Trigger usage_limit please\r\n\r\n"
              "\x1b[31m■\x1b[0m \x1b[1mYou’ve hit your usage limit.\x1b[22m Try again at "
              "\x1b[4m7:49 AM\x1b[24m.\x1b[K\n\n› Ask Codex to do anything\n\n"
              "  gpt-5-codex default · /home/dev/work/proj\n  ← for agents · ? for shortcuts\n")
    view = classify(screen, BACKENDS["codex"], NOW)
    assert view.state == "limited"
    assert view.limit_line == "■ You’ve hit your usage limit. Try again at 7:49 AM."
    assert view.reset_at == datetime(2026, 11, 21, 7, 49, tzinfo=BERLIN)


def test_strip_ansi() -> None:
    text = "\x1b[1;32mok\x1b[0m\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\n"
    assert strip_ansi(text) == "oklink\n"


class Echo(NamedTuple):
    line: str
    expected: bool


ECHOES = [
    Echo("❯ Please say hello (working-state test)", True),  # Claude
    Echo("› Trigger usage_limit please", True),  # Codex
    Echo(" > Trigger usage_limit please", True),  # Gemini
    Echo("> fix it", True),  # aider / old Claude
    Echo("diff> fix it", True),  # aider in its edit format / chat modes
    Echo("ask> why does it fail?", True),
    Echo("architect> plan the refactor", True),
    Echo("multi> first line", True),
    Echo("ask>", False),
    Echo("Output> fix it", False),  # prose that looks like a prompt
    Echo("❯ /rate-limit-options", True),  # skipped, but does not start a turn
    Echo(f"❯{NBSP}", False),  # Claude's empty input line
    Echo(f"❯{NBSP}Try \"refactor cli.ts\"", False),  # its placeholder
    Echo(" ❯ 1. Yes", False),  # menu options
    Echo("  ❯ 1. Stop and wait for limit to reset", False),
    Echo("› 1. Switch to gpt-6-luna", False),
    Echo(" >   Type your message or @path/to/file", False),  # Gemini composer
    Echo("  ⎿ \xa0You've hit your session limit", False),
    Echo(">", False),
]


@pytest.mark.parametrize("case", ECHOES, ids=[repr(e.line) for e in ECHOES])
def test_is_echo(case: Echo) -> None:
    assert is_echo(case.line) is case.expected


# ------------------------------------------------------------------------------ WAITING-UNTIL

class Waiting(NamedTuple):
    id: str
    screen: str
    footer_ui: bool
    expected: datetime | None


WAITING_CASES = [
    Waiting("anywhere-last-wins",
            "● WAITING-UNTIL: 2026-11-21T08:00:00Z\nsleeping\n"
            "● WAITING-UNTIL: 2026-11-21T09:30:00+01:00\n❯\xa0\n  ? for shortcuts\n",
            False, datetime(2026, 11, 21, 9, 30, tzinfo=BERLIN)),
    Waiting("anywhere-space-separated", "WAITING-UNTIL: 2026-11-21 15:00:00+01:00\n> ", False,
            datetime(2026, 11, 21, 15, 0, tzinfo=BERLIN)),
    Waiting("anywhere-ansi", "\x1b[2mWAITING-UNTIL:\x1b[0m 2026-11-21T15:00:00Z\x1b[K\n", False,
            datetime(2026, 11, 21, 15, 0, tzinfo=UTC)),
    Waiting("anywhere-none", "● Done.\n❯\xa0\n", False, None),
    Waiting("anywhere-unparseable", "WAITING-UNTIL: soon\n", False, None),
    Waiting("anywhere-last-unparseable",
            "WAITING-UNTIL: 2026-11-21T08:00:00Z\nWAITING-UNTIL: <ISO time>\n", False, None),
    Waiting("footer-last-line", "● working\n✦ WAITING-UNTIL: 2026-11-21T15:00:00Z\n\n\n", True,
            datetime(2026, 11, 21, 15, 0, tzinfo=UTC)),
    Waiting("footer-not-last-line",
            "✦ WAITING-UNTIL: 2026-11-21T15:00:00Z\n >   Type your message\n", True, None),
    Waiting("footer-unparseable", "WAITING-UNTIL: tomorrow\n", True, None),
]


@pytest.mark.parametrize("case", WAITING_CASES, ids=[c.id for c in WAITING_CASES])
def test_waiting_until(case: Waiting) -> None:
    view = classify(case.screen, backend("plain", footer_ui=case.footer_ui), NOW)
    assert view.waiting_until == case.expected


def test_waiting_until_naive_is_in_nows_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    got = classify("WAITING-UNTIL: 2026-11-21T15:00:00\n", backend("plain"),
                   NOW.astimezone(tokyo)).waiting_until
    assert got is not None and got.tzinfo is tokyo
    assert got == datetime(2026, 11, 21, 15, 0, tzinfo=tokyo)


def test_classify_waiting_marker() -> None:
    plain = backend("plain")
    view = classify("● WAITING-UNTIL: 2026-11-21T15:00\n❯\xa0\n", plain, NOW)
    assert view.waiting_until == datetime(2026, 11, 21, 15, 0, tzinfo=BERLIN)  # now's zone
    footer = backend("footer", footer_ui=True)
    last = classify("● working\n● WAITING-UNTIL: 2026-11-21T15:00Z\n\n", footer, NOW)
    assert last.waiting_until == datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    gone = classify("● WAITING-UNTIL: 2026-11-21T15:00Z\n❯\xa0\n  ? for shortcuts\n", footer,
                    NOW)
    assert gone.waiting_until is None  # footer_ui: only the last non-empty line counts


def test_empty_screen() -> None:
    assert classify("", BACKENDS["claude"], NOW) == ScreenView(
        "idle", None, None, None, None, None, None)
    assert classify("\n\n   \n", backend("none"), NOW).state == "idle"


def test_reset_is_aware_and_now_zone_is_used() -> None:
    view = classify(fixture("codex", "usage_limit_final"), BACKENDS["codex"],
                    NOW.astimezone(ZoneInfo("America/New_York")))
    # Codex prints agent-local time without a zone: 7:49 AM in New York this time.
    assert view.reset_at == datetime(2026, 11, 21, 7, 49, tzinfo=ZoneInfo("America/New_York"))
    assert view.reset_at is not None and view.reset_at - NOW > timedelta(hours=6)


def test_message_gutter_counts_only_the_last_block() -> None:
    # A usage-limit block that is the LAST block is the current turn; once a later prompt
    # block follows it (unmarked, in the same gutter) it is history.
    banner = "  ┃\n  ┃  The usage limit has been reached\n  ┃\n"
    prompt = "  ┃\n  ┃  please continue\n  ┃\n"
    composer = "  ┃\n  ┃  Build · Model\n  ╹▀▀▀▀▀▀\n   /home/dev  ctrl+p commands\n"
    gutter = BACKENDS["opencode"]
    assert classify(banner + composer, gutter, NOW).state == "limited"
    assert classify(banner + prompt + composer, gutter, NOW).state == "idle"
    no_gutter = backend("plain", limit=r"usage limit has been reached")
    assert classify(banner + prompt + composer, no_gutter, NOW).state == "limited"
