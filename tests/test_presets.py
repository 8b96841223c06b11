"""The built-in backend presets (agent_orchestrator/config/presets.py), loaded through the real
config loader: real screens, look-alikes that must not match, launch argv, adversarial input.

Screens:
- tests/fixtures/screens/<cli>/: real captures of Claude Code 2.1.197, Codex CLI 0.169.0,
  Gemini CLI 0.61.0 and opencode 1.18.33 (byte-identical copies of shared/reference/screens).
- tests/fixtures/presets/aider/: no capture of aider exists, so these are written by hand from
  aider's own output strings (Aider-AI/aider, as collected in shared/reference/agent-cli-
  signals.md §5 and §12.5): the start-up banner (aider/coders/base_coder.py), the `> ` prompt
  and echoed input (aider/io.py get_input), the `░█ Waiting for <model>` spinner shown until
  the first token (aider/waiting.py, base_coder.send_message), `Tokens: ... Cost: ...`
  (base_coder), confirmations `<question> (Y)es/(N)o/(D)on't ask again [Yes]: ` (aider/io.py
  confirm_ask), and the API error texts of aider/exceptions.py (`The API provider has rate
  limited you. ...`, `... is not able to authenticate you. ...`, `... servers are down or
  overloaded.`) printed under litellm's exception text and followed by `Retrying in N
  seconds...` (base_coder.send_message: the delay doubles up to 60 s, then aider gives up and
  shows the prompt again).
"""

from __future__ import annotations

import json
import shlex
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import Backend, Config
from agent_orchestrator.config.presets import PRESETS, SKIP_PERMISSIONS
from agent_orchestrator.config.userregex import UserRegex
from agent_orchestrator.core.screen import ScreenView, classify
from agent_orchestrator.doors import markers
from agent_orchestrator.runtime import launch, signalwiring

SCREENS = Path(__file__).parent / "fixtures" / "screens"
OWN = Path(__file__).parent / "fixtures" / "presets"
BERLIN = ZoneInfo("Europe/Berlin")
# Shortly before the captures' limits reset (Codex printed "try again at 7:49 AM" at 05:49).
NOW = datetime(2026, 11, 21, 6, 50, tzinfo=BERLIN)
REAL = ("claude", "codex", "gemini", "opencode", "aider")  # every preset but demo

# A kickoff that would break any quoting: quotes, newlines, shell syntax, a leading dash on a
# line, braces.
PROMPT = ('Fix "the parser" and don\'t stop;\nthen run `pytest -q` && echo $HOME {model}\n'
          "- a list item\n---\n")
MODELS = {"claude": "opus", "codex": "gpt-5-codex", "gemini": "gemini-2.5-pro",
          "opencode": "anthropic/claude-sonnet-4-6", "aider": "sonnet"}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """One agent per preset and no [backend.*] table at all."""
    folder = tmp_path_factory.mktemp("presets")
    text = '[defaults]\nsession_prefix = "t-"\nlog_dir = "logs"\n'
    for name in REAL:
        text += (f'[[agent]]\nname = "{name}"\nbackend = "{name}"\nmodel = "{MODELS[name]}"\n'
                 f"resume = true\nprompt = {json.dumps(PROMPT)}\n")
    path = folder / "agents.toml"
    path.write_text(text, encoding="utf-8")
    return config_mod.load(path)


def fixture(cli: str, name: str) -> str:
    folder = OWN if cli == "aider" else SCREENS
    return (folder / cli / f"{name}.txt").read_text(encoding="utf-8")


def decisive_line(view: ScreenView) -> str | None:
    return {"fatal": view.fatal_line, "active": view.active_line, "dialog": view.dialog_line,
            "limited": view.limit_line, "idle": None}[view.state]


# ----------------------------------------------------------------------------- loading

def test_presets_load_without_tables_and_compile(config: Config) -> None:
    for name in REAL:
        backend = config.backend(name)
        assert backend.bin == name
        for key in ("active_re", "limit_re", "fatal_re", "prompt_re"):
            pattern = getattr(backend, key)
            assert isinstance(pattern, UserRegex), f"{name}.{key}"
        assert backend.process_name and backend.submit_key == "Enter"
        assert backend.footer_ui is True  # every one of them keeps a footer or a live bottom


def test_demo_preset_unchanged() -> None:
    assert PRESETS["demo"] == {
        "bin": "{python} -m agent_orchestrator.fakeagent", "prompt_delivery": "arg",
        "model_flag": "--model '{model}'", "supports_resume": True,
        "resume_flag": "--resume '{id}'", "process_name": "python",
        "active_re": r"esc to interrupt", "limit_re": r"You've hit your (?:\w+ )?limit",
        "fatal_re": r"API Error: 401|authentication_error",
        "prompt_re": r"Do you want to proceed\?", "submit_key": "Enter", "stall_idle": 300}


# ----------------------------------------------------------------------------- real screens

class Ref(NamedTuple):
    cli: str
    name: str
    state: str
    line: str | None = None  # a substring of the row that decided the state
    reset: datetime | None = None  # for limited screens


REFERENCE = [
    Ref("claude", "idle", "idle"),
    Ref("claude", "working", "active", "esc to interrupt"),
    Ref("claude", "answered", "idle"),
    Ref("claude", "permission", "dialog", "Do you want to proceed?"),
    Ref("claude", "trust_prompt", "dialog", "Yes, I trust this folder"),
    Ref("claude", "ratelimit_final", "idle"),  # "(not your usage limit)"
    Ref("claude", "overloaded_final", "idle"),  # the limit banner is a turn old
    Ref("claude", "error500_final", "idle"),  # the limit banner is two turns old
    Ref("claude", "usage_limit_final", "limited", "You've hit your session limit",
        datetime(2026, 11, 21, 7, 58, tzinfo=UTC)),  # "resets 7:58am (UTC)"
    Ref("codex", "idle", "idle"),
    Ref("codex", "working", "active", "• Working (0s • esc to interrupt)"),
    Ref("codex", "answered", "idle"),
    Ref("codex", "answered_after_2nd_enter", "idle"),
    Ref("codex", "enter_swallowed_at_startup", "idle"),
    Ref("codex", "permission", "dialog", "No, and tell Codex what to do differently"),
    Ref("codex", "trust_prompt", "dialog", "Trust this folder?"),
    Ref("codex", "ratelimit_final", "idle"),  # "exceeded retry limit, last status: 429"
    Ref("codex", "overloaded_final", "idle"),  # banner a turn old, "⚠ 5h limit" warning
    Ref("codex", "error500_final", "idle"),
    Ref("codex", "usage_limit_final", "limited", "You’ve hit your usage limit",
        datetime(2026, 11, 21, 7, 49, tzinfo=BERLIN)),  # "try again at 7:49 AM", local
    Ref("gemini", "idle", "idle"),
    Ref("gemini", "working", "active", "Thinking... (esc to cancel, 3s)"),
    Ref("gemini", "answered", "idle"),
    Ref("gemini", "permission", "dialog", "Allow execution of [Shell]?"),
    Ref("gemini", "trust_prompt", "dialog", "Do you trust the files in this folder?"),
    Ref("gemini", "ratelimit_at_6s", "active", "esc to cancel"),  # gemini retries by itself
    Ref("gemini", "ratelimit_after_150s", "active", "esc to cancel"),
    Ref("gemini", "overloaded_at_6s", "active", "esc to cancel"),
    Ref("gemini", "overloaded_after_150s", "active", "esc to cancel"),
    Ref("gemini", "error500_at_6s", "active", "esc to cancel"),
    Ref("gemini", "error500_after_150s", "active", "esc to cancel"),
    # The real limit screens print no reset time.
    Ref("gemini", "usage_limit_final", "limited", "Usage limit reached for gemini-2.5-flash."),
    Ref("gemini", "usage_limit_after_escape", "limited",
        "Usage limit reached for gemini-2.5-flash."),
    Ref("gemini", "usage_limit_stopped", "limited",
        "✕ [API Error: You have exhausted your daily quota on this model.]"),
    Ref("opencode", "idle", "idle"),
    Ref("opencode", "working", "active", "esc interrupt"),
    Ref("opencode", "answered", "idle"),
    Ref("opencode", "permission", "dialog", "Allow once   Allow always   Reject"),
    Ref("opencode", "ratelimit_final", "idle"),  # "Rate limit reached ... try again in 2s"
    Ref("opencode", "error500_final", "idle"),
    Ref("opencode", "usage_limit_final", "limited", "The usage limit has been reached"),
    # hand-written aider screens (see the module docstring)
    Ref("aider", "idle", "idle"),
    Ref("aider", "busy", "active", "Waiting for anthropic/claude-sonnet-4-6"),
    Ref("aider", "finished", "idle"),
    Ref("aider", "permission", "dialog", "Run shell command? (Y)es/(N)o"),
    Ref("aider", "permission_answered", "idle"),  # answered questions stay on screen
    Ref("aider", "rate_retry", "active", "Waiting for anthropic/claude-sonnet-4-6"),
    Ref("aider", "rate_limited", "limited", "The API provider has rate limited you."),
    Ref("aider", "auth_error", "fatal", "not able to authenticate you"),
    Ref("aider", "overloaded", "idle"),  # a server error, not a limit: retried, then given up
]


@pytest.mark.parametrize("ref", REFERENCE, ids=[f"{r.cli}-{r.name}" for r in REFERENCE])
def test_reference_screens(config: Config, ref: Ref) -> None:
    view = classify(fixture(ref.cli, ref.name), config.backend(ref.cli), NOW)
    assert view.state == ref.state, decisive_line(view)
    if ref.line is not None:
        assert ref.line in (decisive_line(view) or "")
    if ref.state == "idle":
        assert view == ScreenView("idle", None, None, None, None, None, None)
    if ref.state == "limited":
        assert view.reset_at == ref.reset
        assert view.dialog_line is None  # the limit menus under the banners are not dialogs


def test_every_fixture_is_covered() -> None:
    covered = {(r.cli, r.name) for r in REFERENCE} | {("opencode", "overloaded_final")}
    on_disk = {(p.parent.name, p.stem) for p in [*SCREENS.glob("*/*.txt"),
                                                   *OWN.glob("aider/*.txt")]}
    assert on_disk == covered


def test_opencode_stale_usage_banner(config: Config) -> None:
    view = classify(fixture("opencode", "overloaded_final"), config.backend("opencode"), NOW)
    assert view.state == "idle"


def test_aider_retry_keeps_the_banner_with_its_retry_time(config: Config) -> None:
    # While aider retries, the spinner is live (active) and the banner is reported as an
    # in-flight retry, with the retry time as its reset.
    view = classify(fixture("aider", "rate_retry"), config.backend("aider"), NOW)
    assert view.limit_line is not None
    assert view.reset_at == NOW + timedelta(seconds=0.5)
    gave_up = classify(fixture("aider", "rate_limited"), config.backend("aider"), NOW)
    assert gave_up.reset_at is None  # no time: the watchdog's limit_probe_fallback applies


# ----------------------------------------------------------------------------- look-alikes

# The reply row of each CLI's answered screen: the tests put their rows there, inside the
# current turn, right where a real banner would be (the controls below prove it).
REPLY = {
    "claude": ("answered", "● FAKE-LLM reply #2: Hello from the fake server. Nothing to do."),
    "codex": ("answered", "• FAKE-LLM reply #1: Hello from the fake server. Nothing to do."),
    "gemini": ("answered", "✦ FAKE-LLM reply #1: Hello from the fake server. Nothing to do."),
    "opencode": ("answered",
                 "     FAKE-LLM reply #2: Hello from the fake server. Nothing to do."),
    "aider": ("finished",
              "The test still expects the old date format. I'll update the expectation."),
}


def answered_with(cli: str, *rows: str) -> str:
    name, reply = REPLY[cli]
    screen = fixture(cli, name)
    assert screen.count(reply) == 1
    return screen.replace(reply, "\n".join(rows))


class Case(NamedTuple):
    id: str
    cli: str
    rows: tuple[str, ...]


LOOKALIKES = [
    # An agent's own prose about limits, in the middle of an answer.
    Case("claude-prose", "claude", (
        "● I added handling for \"You've hit your usage limit\" banners and the rate limit",
        "  errors: when Claude usage limit reached shows up, or a 5-hour limit reached line,",
        "  the agent waits; Usage limit reached is handled too. API Error: 401 means login.")),
    Case("codex-prose", "codex", (
        "• When “You’ve hit your usage limit” appears Codex waits, a 429 rate limit is retried",
        "  and 401 Unauthorized means a new login.",)),
    Case("gemini-prose", "gemini", (
        '✦ The CLI prints "Usage limit reached for all Pro models." when the quota is gone,',
        '  "You have exhausted your daily quota" on the API path, and "API key not valid".')),
    Case("opencode-prose", "opencode", (
        '     The provider says "The usage limit has been reached" or gives a rate limit error;',
        "     and Free usage exceeded means the free tier is gone; API key not valid: re-auth.")),
    Case("aider-prose", "aider", (
        "When aider says The API provider has rate limited you, it retries; a usage limit",
        "is the provider's, and The API provider is not able to authenticate you is fatal.")),
    # "75% of your limit used" and limit warnings.
    Case("claude-75", "claude", ("● Checked /status: 75% of your limit used, plenty left.",)),
    Case("codex-75", "codex", ("• Checked /status: 75% of your limit used, plenty left.",)),
    Case("gemini-75", "gemini", ("✦ Checked /stats: 75% of your limit used, plenty left.",)),
    Case("opencode-75", "opencode", ("     75% of your limit used, plenty left.",)),
    Case("aider-75", "aider", ("75% of your limit used, plenty left.",)),
    Case("claude-approaching", "claude", ("● Done.", "  ⎿  Approaching usage limit · resets at 2am",
                                          "  ⎿  Approaching Opus usage limit")),
    Case("codex-heads-up", "codex", (
        "• Done.", "⚠ Heads up, you've used over 75% of your 5h limit. Run /status for a "
        "breakdown.", "⚠ Heads up, you’ve used over 90% of your weekly limit.")),
    Case("codex-5h-left", "codex", (
        "• Done.", "  ⚠ 5h limit: only <1% left · resets at 07:48 · /status")),
    # Claude's rate limit says it is not the usage limit (screens/claude/ratelimit_final.txt).
    Case("claude-rate-limit", "claude", (
        "● API Error: Server is temporarily limiting requests (not your usage limit) · This "
        "request would exceed the rate",
        "  limit for your organization (fake-org) of 50 requests per minute. For details, "
        "refer to:", "  https://docs.claude.com/en/api/rate-limits.")),
    # Codex's and opencode's rate limits (real screens), Gemini's capacity notice.
    Case("codex-429", "codex", (
        "■ exceeded retry limit, last status: 429 Too Many Requests, request id: req_1",)),
    Case("codex-tpm", "codex", ("■ Rate limit reached for gpt-5 in organization org-x on "
                                "tokens per min.",)),
    Case("opencode-rpm", "opencode", (
        "  ┃  Rate limit reached for fake-model in organization org-fake on requests per min",
        "  ┃  (RPM): Limit 500, Used 500, Requested 1. Please try again in 2s.")),
    Case("gemini-capacity", "gemini", (
        "We are currently experiencing high demand for gemini-3-pro.",
        "We apologize and appreciate your patience.", "/model to switch models.")),
    # A tool's output quoting a 401 is not Claude's own banner (signals §12.1).
    Case("claude-quoted-401", "claude", (
        "● Bash(agent-deck session output worker-3 -q)",
        '  ⎿  Please run /login · API Error: 401 {"type":"error","error":{"type":'
        '"authentication_error"}}')),
    # Claude asking the user a question in prose is not a permission dialog.
    Case("claude-asks", "claude", ("● Do you want to proceed with the refactor?",)),
    Case("codex-asks", "codex", ("• Would you like to run the following command? It is safe.",
                                 "  Press enter to confirm or esc to cancel is its footer.")),
]


@pytest.mark.parametrize("case", LOOKALIKES, ids=[c.id for c in LOOKALIKES])
def test_lookalikes_do_not_match(config: Config, case: Case) -> None:
    view = classify(answered_with(case.cli, *case.rows), config.backend(case.cli), NOW)
    assert view == ScreenView("idle", None, None, None, None, None, None)


class Control(NamedTuple):
    id: str
    cli: str
    rows: tuple[str, ...]
    state: str
    reset: datetime | None = None


PST = timezone(timedelta(hours=-8))
CONTROLS = [
    Control("claude-hit", "claude", ("  ⎿  You've hit your limit · resets 3pm",), "limited",
            datetime(2026, 11, 21, 15, 0, tzinfo=BERLIN)),
    Control("claude-5h", "claude", ("  ⎿  5-hour limit reached ∙ resets 5am",), "limited",
            datetime(2026, 11, 22, 5, 0, tzinfo=BERLIN)),
    Control("claude-weekly", "claude", (
        "  ⎿  You've hit your weekly limit · resets Nov 24 at 4:30am (Asia/Calcutta)",),
        "limited", datetime(2026, 11, 24, 4, 30, tzinfo=ZoneInfo("Asia/Calcutta"))),
    Control("claude-v1-wrapped", "claude", (
        "  ⎿  Claude usage limit reached. Your limit will reset",
        "     at 9am (America/Chicago)."), "limited",
            datetime(2026, 11, 21, 9, 0, tzinfo=ZoneInfo("America/Chicago"))),
    Control("claude-plain", "claude", ("  Usage limit reached",), "limited"),
    Control("claude-401", "claude", (
        '● Please run /login · API Error: 401 {"type":"error","error":{"type":'
        '"authentication_error","message":"Invalid authentication credentials"}}',), "fatal"),
    Control("claude-apikey", "claude", ("● Invalid API key · Please run /login",), "fatal"),
    Control("claude-edit", "claude", (" Do you want to make this edit to parser.py?",
                                      " ❯ 1. Yes", "   2. No"), "dialog"),
    Control("claude-bypass", "claude", (
        "  WARNING: Claude Code running in Bypass Permissions mode", "  ❯ No, exit",
        "    Yes, I accept", "  Enter to confirm · Esc to cancel"), "dialog"),
    Control("codex-at", "codex", ("■ You've hit your usage limit. Try again at 3:28 PM.",),
            "limited", datetime(2026, 11, 21, 15, 28, tzinfo=BERLIN)),
    Control("codex-relative", "codex", (
        "🖐  You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) "
        "or try again in 3 hours 2 minutes.",), "limited", NOW + timedelta(hours=3, minutes=2)),
    Control("codex-401", "codex", ("■ unexpected status 401 Unauthorized: token expired",),
            "fatal"),
    Control("codex-context", "codex", (
        "■ Codex ran out of room in the model's context window. Start a new conversation or "
        "clear earlier history before retrying.",), "fatal"),
    Control("codex-edits", "codex", ("  Would you like to make the following edits?",
                                     "› 1. Yes, proceed (y)"), "dialog"),
    Control("gemini-pro", "gemini", ("│ Usage limit reached for all Pro models.",
                                     "│ Access resets at 3:45 PM PST."), "limited",
            datetime(2026, 11, 21, 15, 45, tzinfo=PST)),
    Control("gemini-daily", "gemini", (
        "ℹ ⚡ You have reached your daily gemini-2.5-pro quota limit.",), "limited"),
    Control("gemini-apikey", "gemini", (
        "✕ [API Error: API key not valid. Please pass a valid API key.]",), "fatal"),
    Control("gemini-apply", "gemini", ("│ Apply this change?", "│ ● 1. Allow once"), "dialog"),
    Control("opencode-free", "opencode", ("  ┃  Free usage exceeded, subscribe to Go",),
            "limited"),
    Control("opencode-apikey", "opencode", (
        "  ┃  API key not valid. Please pass a valid API key.",), "fatal"),
    Control("opencode-question", "opencode", ("  ┃  What should the new line be?",
                                              "  ┃  ↑↓ select  enter submit  esc dismiss"),
            "dialog"),
]


@pytest.mark.parametrize("case", CONTROLS, ids=[c.id for c in CONTROLS])
def test_controls_at_the_same_place_do_match(config: Config, case: Control) -> None:
    view = classify(answered_with(case.cli, *case.rows), config.backend(case.cli), NOW)
    assert view.state == case.state, decisive_line(view)
    if case.state == "limited":
        assert view.reset_at == case.reset


def test_prose_banner_a_turn_old_does_not_count(config: Config) -> None:
    # The claude control above, followed by a later prompt and its answer.
    screen = answered_with("claude", "  ⎿  You've hit your limit · resets 3pm", "",
                           "✻ Cooked for 0s", "", "❯ continue please", "", "● Continuing.")
    assert classify(screen, config.backend("claude"), NOW).state == "idle"


# ----------------------------------------------------------------------------- launch

class Argv(NamedTuple):
    cli: str
    plain: tuple[str, ...]  # first start (a new id "new-id" pinned where the CLI can)
    resumed: tuple[str, ...]  # with resume id "abc-123"
    glue: str = ""  # the kickoff's last word is glue + kickoff (yargs: `--flag=value`)


ARGV = [
    # `claude [--resume ID | --session-id ID] [--model M] -- "query"` (cli-reference)
    Argv("claude", ("claude", "--session-id", "new-id", "--model", "opus",
                    "--permission-mode", "default", "--"),
         ("claude", "--resume", "abc-123", "--model", "opus", "--permission-mode", "default",
          "--")),
    # `codex [--model M] -- "prompt"`, `codex resume ID [--model M] -- "prompt"`
    Argv("codex", ("codex", "--model", "gpt-5-codex", "--"),
         ("codex", "resume", "abc-123", "--model", "gpt-5-codex", "--")),
    # `gemini [--resume ID] [--model M] --prompt-interactive="prompt"`
    Argv("gemini", ("gemini", "--model", "gemini-2.5-pro"),
         ("gemini", "--resume", "abc-123", "--model", "gemini-2.5-pro"),
         glue="--prompt-interactive="),
    # `opencode [--session ID] [--model P/M] --prompt="text"` (no positional: that's a path)
    Argv("opencode", ("opencode", "--model", "anthropic/claude-sonnet-4-6"),
         ("opencode", "--session", "abc-123", "--model", "anthropic/claude-sonnet-4-6"),
         glue="--prompt="),
]


@pytest.mark.parametrize("case", ARGV, ids=[c.cli for c in ARGV])
def test_launch_argv(config: Config, case: Argv) -> None:
    agent = config.agent(case.cli)
    assert agent is not None
    # The CLI's own signals are wired right after the program (signalwiring.py).
    wiring = signalwiring.wiring(config, agent, config.backend(agent.backend))
    wired = wiring.words
    assert bool(wired) == (case.cli in ("claude", "codex"))
    plan = launch.plan_agent(config, agent, new_id=lambda: "new-id")
    assert plan.argv == (case.plain[0], *wired, *case.plain[1:], case.glue + PROMPT)
    # the kickoff whole, in ONE word; gemini's hooks come through its environment
    assert plan.boot_line is None and plan.env == wiring.env
    assert bool(wiring.env) == (case.cli == "gemini")
    resumed = launch.plan_agent(config, agent, resume_id="abc-123")
    assert resumed.argv == (case.resumed[0], *wired, *case.resumed[1:], case.glue + PROMPT)


@pytest.mark.parametrize("cli", ["gemini", "opencode"])
def test_yargs_clis_get_a_dash_kickoff_glued_to_its_flag(tmp_path: Path, cli: str) -> None:
    # yargs reads a separate `- item` value as an option; `--prompt=- item` is one value.
    path = tmp_path / "agents.toml"
    path.write_text('[defaults]\nsession_prefix = "t-"\nlog_dir = "logs"\n'
                    f'[[agent]]\nname = "a"\nbackend = "{cli}"\nprompt = "- first\\n---"\n'
                    f'[[agent]]\nname = "b"\nbackend = "{cli}"\n')
    config = config_mod.load(path)
    a, b = config.agent("a"), config.agent("b")
    assert a is not None and b is not None
    assert launch.plan_agent(config, a).argv[-1].endswith("=- first\n---")
    assert not any("{kickoff}" in w or w.endswith("=") for w in launch.plan_agent(config, b).argv)


def test_launch_aider_pings(config: Config) -> None:
    agent = config.agent("aider")
    assert agent is not None
    plan = launch.plan_agent(config, agent, resume_id="abc-123")  # no resume for aider
    kickoff = str(launch.kickoff_file(config, agent.session))
    # The kickoff file joins the chat read-only (aider's model cannot run `cat`).
    assert plan.argv == ("/bin/sh", "-c",
                         "aider --no-check-update --no-show-release-notes --no-gitignore "
                         f"--read {shlex.quote(kickoff)}")
    assert plan.env == (("AIDER_MODEL", "sonnet"),)
    assert plan.kickoff == PROMPT
    assert plan.boot_line is not None
    assert kickoff in plan.boot_line and "cat" not in plan.boot_line
    assert "\n" not in plan.boot_line  # typed as one line


# Permission-skipping flags of every CLI (signals §1-§5), aliases included.
FORBIDDEN = set(SKIP_PERMISSIONS.values()) | {
    "--dangerously-skip-permissions", "--yolo", "-y", "--approval-mode",
    "--full-auto", "--dangerously-bypass-approvals-and-sandbox", "--auto", "--yes-always",
    "--trust-all-tools", "--skip-trust", "-f", "--force"}


def test_no_preset_skips_permissions(config: Config) -> None:
    assert set(SKIP_PERMISSIONS) == set(REAL)
    for name, preset in PRESETS.items():
        for key, value in preset.items():
            if isinstance(value, str) and key in ("bin", "flags", "model_flag", "resume_flag",
                                                  "remote_control_flag", "attach", "preamble"):
                assert not FORBIDDEN & set(shlex.split(value)), f"{name}.{key}"
                assert not _loose_mode(shlex.split(value)), f"{name}.{key}"
    for agent in config.agents:
        for resume_id in (None, "abc-123"):
            plan = launch.plan_agent(config, agent, resume_id=resume_id)
            words = set(plan.argv[:-1]) | set(shlex.split(plan.argv[-1]) if
                                              plan.argv[0] == "/bin/sh" else ())
            assert not FORBIDDEN & words, agent.name
            assert not _loose_mode(list(plan.argv)), agent.name


def _loose_mode(words: list[str]) -> bool:
    """A `--permission-mode` other than `default` (which keeps the dialogs)."""
    return any(w == "--permission-mode" and words[i + 1:i + 2] != ["default"]
               or w.startswith("--permission-mode=") and w != "--permission-mode=default"
               for i, w in enumerate(words))


def test_skip_permission_flags_are_what_each_cli_documents() -> None:
    assert SKIP_PERMISSIONS == {
        "claude": "--dangerously-skip-permissions",
        "codex": "--dangerously-bypass-approvals-and-sandbox",
        "gemini": "--yolo", "opencode": "--yolo", "aider": "--yes-always"}


# ----------------------------------------------------------------------------- adversarial

MB = 10**6
ADVERSARIAL = {
    "letters": "a" * MB,
    "rule": "─" * MB,
    "spaces": " " * MB,
    "spaces-then-text": " " * MB + "x",
    "text-spaces-text": "x" + " " * MB + "x",
    "nbsp-then-text": "\xa0" * MB + "x",
    "space-rows": (" " * 99 + "\n") * (MB // 100) + "x",
    "box-borders": "│" * MB + "x",
    "heavy-borders": "┃" * MB + "x",
    "tool-elbows": "⎿" * MB + "x",
    "bullets": "●" * MB + "x",
    "knight-rider": "■⬝" * (MB // 2) + "x",
    "spinner": "░" * MB + "Waiting",
    "banner-prefixes": "You've hit your " * (MB // 16),
    "confirm-prefixes": "(Y)es/(N)o/(D)on't ask again " * (MB // 29),
    "error-prefixes": "✕ [API Error: " * (MB // 14),
    "dialog-prefixes": "Allow once Allow always " * (MB // 24),
}


@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize("kind", sorted(ADVERSARIAL))
def test_regexes_stay_fast_on_a_1mb_screen(config: Config, name: str, kind: str) -> None:
    backend = config.backend(name)
    screen = ADVERSARIAL[kind]
    best = min(_timed(screen, backend) for _ in range(3))  # best of 3: a busy CI box is noisy
    assert best < 0.5, f"{name} took {best:.2f}s on {kind}"


def _timed(screen: str, backend: Backend) -> float:
    start = time.perf_counter()
    classify(screen, backend, NOW)
    return time.perf_counter() - start


def test_aider_mode_prompt_starts_a_new_turn(config: Config) -> None:
    # A rate-limit message from an earlier turn, then the user's next prompt in ask mode.
    screen = ("The API provider has rate limited you. Try again later or check your quotas.\n"
              "\nask> what changed?\n\nNothing changed since the last commit:\n"
              "the working tree is clean\nand HEAD is where it was.\n\n"
              "Tokens: 2.1k sent, 12 received. Cost: $0.01 message, $0.02 session.\n\nask> ")
    assert classify(screen, config.backend("aider"), NOW).state == "idle"
    current = screen.rsplit("ask> what", 1)[0] + "ask> "
    assert classify(current, config.backend("aider"), NOW).state == "limited"


@pytest.mark.parametrize("cli,words", [("codex", ("resume", "--last")),
                                       ("gemini", ("--resume", "latest")),
                                       ("opencode", ("--continue",))])
def test_clis_without_pinned_ids_continue_their_latest_conversation(
        tmp_path: Path, cli: str, words: tuple[str, ...]) -> None:
    path = tmp_path / "agents.toml"
    path.write_text('[defaults]\nsession_prefix = "t-"\nlog_dir = "logs"\n'
                    f'[[agent]]\nname = "a"\nbackend = "{cli}"\nresume = true\n')
    config = config_mod.load(path)
    agent = config.agent("a")
    assert agent is not None
    first = launch.plan_agent(config, agent)
    # Nothing to continue on the very first start; the plan stores the marker for later.
    assert not set(words) & set(first.argv)
    assert first.new_resume_id == (markers.resume_id_file(config, "a"), launch.CONTINUE_LAST)
    again = launch.plan_agent(config, agent, resume_id=launch.CONTINUE_LAST)
    skip = 1 + len(signalwiring.wiring(config, agent, config.backend(cli)).words)
    assert again.argv[skip:skip + len(words)] == words and again.new_resume_id is None
    stored = launch.plan_agent(config, agent, resume_id="abc-123")  # an id the user stored
    assert "abc-123" in stored.argv
    assert not {"--last", "latest", "--continue"} & set(stored.argv)
