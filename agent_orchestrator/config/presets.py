"""Built-in backend presets.

A preset is the raw `[backend.NAME]` table a user would otherwise write. `backend = "claude"`
works with no table at all; a user table of the same name overrides preset keys one by one
(the merge happens in builder.py before validation, so presets are validated like user input).

`{python}` in `bin` is replaced at launch by the interpreter running agent-orchestrator
(templates.fill_python), so the demo agent runs from the same environment whatever PATH the
tmux server inherited.

Sources (all in shared/reference): `agent-cli-signals.md` (launch, resume and screen texts of
each CLI, with their own sources: cited below as "signals §N"), `delivery.md` (submit keys,
process names as tmux reports them) and the real screens in `screens/<cli>/` (Claude Code
2.1.197, Codex CLI 0.169.0, Gemini CLI 0.61.0, opencode 1.18.33), which
tests/test_presets.py classifies with these presets.

How the screen regexes are written (screen.py runs them case-insensitive and multi-line, on
one row at a time, the limit/fatal ones only on the current turn):

- Banners are matched at the START of a row, after the CLI's own decoration (spaces, `⎿`,
  `●`, `■`, box borders `│ ┃`), never in the middle of one: an agent's prose that quotes
  "You've hit your usage limit" mid-sentence is not a banner.
- `limit_re` matches usage/quota limits only: not rate limits that the CLI retries by itself
  or that say so ("(not your usage limit)"), not warnings ("Approaching usage limit",
  "Heads up, you've used over 75% of your 5h limit"; screen.py also drops those rows).
- `prompt_re` matches permission / trust / first-run dialogs only. Limit menus ("What do you
  want to do? 1. Stop and wait for limit to reset", "Switch to gpt-6-luna?") sit right under
  limit banners and dialog outranks limited, so numbered menus and "Enter to confirm" lines
  are NOT dialogs here.
- Patterns run on RE2 (config/userregex.py), so any row is read in linear time; RE2 has no
  possessive quantifiers and needs none (it never backtracks).

No preset skips permissions. `SKIP_PERMISSIONS` lists each CLI's flag for that, for an
opt-in config key to apply.
"""

from __future__ import annotations

from typing import Any

# Shared spellings. Codex writes a curly apostrophe (`You’ve`), Claude a straight one.
_APOS = "[’']"

# The newest release of each CLI whose real screens these presets were checked against
# (tests/test_presets_captured.py; tests/realcli/versions.toml installs them). `agents
# doctor` warns about an installed CLI newer than this.
CHECKED_VERSIONS = {"claude": "2.1.332", "codex": "0.171.0", "gemini": "0.61.0",
                    "opencode": "1.18.33"}

PRESETS: dict[str, dict[str, Any]] = {
    # The bundled fake agent (agent_orchestrator/fakeagent/). Its screens copy Claude Code's,
    # so these regexes have the same shape as the claude preset's.
    "demo": {
        "bin": "{python} -m agent_orchestrator.fakeagent",
        "prompt_delivery": "arg",
        "model_flag": "--model '{model}'",
        "supports_resume": True,
        "resume_flag": "--resume '{id}'",
        "process_name": "python",
        "active_re": r"esc to interrupt",
        "limit_re": r"You've hit your (?:\w+ )?limit",
        "fatal_re": r"API Error: 401|authentication_error",
        "prompt_re": r"Do you want to proceed\?",
        "submit_key": "Enter",
        "stall_idle": 300,
    },
    # Claude Code. Launch: `claude "query"` starts the interactive TUI with a first prompt;
    # `--model <alias|id>`; `--resume <uuid>` (signals §1.1, docs.anthropic.com cli-reference).
    # `flags = "--"` ends the options so a kickoff starting with `-` (a markdown list, `---`
    # front matter) is the prompt, not an unknown option: `claude --help` is commander.js
    # output (quoted in link-assistant/hive-mind#843), and commander 12 rejects `- a list`
    # as "unknown option" but takes anything after `--` as the prompt (checked). A user
    # table that sets `flags` should keep `--` last.
    "claude": {
        "signals": "claude",
        "bin": "claude",
        "prompt_delivery": "arg",
        # 2.1.332 starts in auto mode, which runs tools without asking (tests/realcli/
        # SIGNALS.md): `default` keeps the permission dialogs no preset may skip.
        "flags": "--permission-mode default --",
        "model_flag": "--model '{model}'",
        "supports_resume": True,
        "resume_flag": "--resume '{id}'",
        # A new conversation can be given its id at launch (signals §1.1, claude-code#4926),
        # so a heal or stall reboot resumes it; never together with --resume (#24934).
        "session_id_flag": "--session-id '{id}'",
        # delivery.md: `#{pane_current_command}` is `claude`; Enter submits (20/20).
        "process_name": "claude",
        "submit_key": "Enter",
        # The busy hint sits in the footer (`esc to interrupt · ← for agents`, screens/claude/
        # working.txt; older builds `ctrl+c to interrupt`, signals §1.2); prose mentioning it
        # further up must not count, hence footer_ui.
        "footer_ui": True,
        "active_re": r"esc to interrupt|ctrl\+c to interrupt",
        # Banners by era (signals §1.3): `⎿  You've hit your session limit · resets 7:58am
        # (UTC)` (screens/claude/usage_limit_final.txt), `Claude usage limit reached. Your
        # limit will reset at 9am`, `5-hour limit reached ∙ resets 5am`, `Opus weekly limit
        # reached ∙ ...`, `Session limit reached ∙ resets 8pm`, a bare `Usage limit reached`.
        # Not `API Error: Server is temporarily limiting requests (not your usage limit)`
        # (screens/claude/ratelimit_final.txt) nor `Approaching usage limit` (a warning).
        # 2.1.332 (tests/fixtures/screens-captured/claude-2.1.332/usage_limit.txt): `⎿  You've
        # hit your 5-hour limit · resets 7:20pm (UTC)` and a footer `⚠ Usage limit reached ·
        # limit resets 7:20pm`; an API-key login gets `API Error: Request rejected (429) ·
        # Rate limited` once its retries are spent (.../usage_limit_api_billing.txt).
        "limit_re": (
            r"^[\s⎿●⏺⚠]*(?:You" + _APOS + r"ve hit your (?:[\w-]+ )?limit"
            r"|Claude (?:AI )?usage limit reached"
            r"|(?:5-hour|session|weekly|Opus(?: weekly)?) limit reached"
            r"|Usage limit reached(?:\s*$|\s*·)"
            r"|API Error: Request rejected \(429\))"
        ),
        # 2.1.332 offers to continue by itself at the reset: `Continuing automatically at
        # 7:20pm · Esc to cancel` (held without a nudge until it had the chance to).
        "auto_resume_re": r"continu(?:e|ing) automatically at",
        # ... and at the reset: `● Usage limit reset · Continuing automatically` (no prompt
        # is echoed: this line starts the new turn; .../usage_limit_resumed.txt).
        "resumed_re": r"Usage limit reset\b.*Continuing automatically",
        # signals §1.2 FATAL (auth): `⏺ Please run /login · API Error: 401 {... authentication_
        # error ...}`, `● Invalid API key · Please run /login`, `Credit balance is too low`.
        # A restart cannot fix these, but a fatal screen counts toward the crash loop that
        # stops the agent and tells the user. Not matched after `⎿` (a tool's output quoting
        # a 401, signals §12.1 `claude.quoted_401`).
        "fatal_re": (
            r"^[\s●⏺]*(?:Please run /login · )?API Error: 401\b"
            r"|^[\s●⏺]*Invalid API key\b"
            r"|^[\s●⏺]*(?:Your )?credit balance is too low\b"
        ),
        # Permission: ` Do you want to proceed?` / `Do you want to make this edit to X?`
        # (screens/claude/permission.txt); trust: `❯ 1. Yes, I trust this folder`
        # (screens/claude/trust_prompt.txt), older `Do you trust the files in this folder?`;
        # bypass warning `Yes, I accept`; question widget `Enter to select · ↑/↓ to navigate`
        # (signals §1.2). NOT the limit menu `What do you want to do?` / `Enter to confirm`.
        "prompt_re": (
            r"^\s*Do you want to (?:proceed|make this edit|create|allow)\b"
            r"|Yes, I trust this folder|^\s*Do you trust the files in this folder\?"
            r"|^[\s❯>]*(?:\d\.\s*)?Yes, I accept\s*$"
            r"|↑/↓ to navigate"
        ),
        "stall_idle": 300,
    },
    # OpenAI Codex CLI. Launch: `codex "prompt"` (interactive), `-m/--model`; resume is a
    # SUBCOMMAND: `codex resume <SESSION_ID> [OPTIONS] [PROMPT]` (openai/codex codex-rs/cli/
    # src/main.rs `ResumeCommand` flattens the interactive options, prompt included; signals
    # §2.1). launch.py puts the resume words right after `bin`, exactly where a subcommand
    # goes: `codex resume <id> --model m -- <kickoff>`. `--` as for claude (clap stops there).
    # Ids can't be pinned at launch: later starts continue the latest conversation in the
    # working dir (`resume --last`, cwd-filtered since openai/codex#9352).
    "codex": {
        "signals": "codex",
        "bin": "codex",
        "prompt_delivery": "arg",
        "flags": "--",
        "model_flag": "--model '{model}'",
        "supports_resume": True,
        "resume_flag": "resume '{id}'",
        "continue_flag": "resume --last",
        # delivery.md: the npm-installed CLI shows as `node`; Enter submits once the text has
        # settled (an Enter right after the text is swallowed: typing code pauses first).
        "process_name": "node",
        "submit_key": "Enter",
        # `• Working (0s • esc to interrupt)` (screens/codex/working.txt), also `Reconnecting...
        # 3/5 (48s • esc to interrupt)` (signals §2.2).
        "footer_ui": True,
        "active_re": r"esc to interrupt",
        # `■ You’ve hit your usage limit. Upgrade to Pro (...) or try again at 7:49 AM.`
        # (screens/codex/usage_limit_final.txt, curly apostrophe; older builds `🖐`, signals
        # §2.3). Not `■ exceeded retry limit, last status: 429 Too Many Requests` (a rate
        # limit, screens/codex/ratelimit_final.txt) nor `⚠ Heads up, you've used over 75% of
        # your 5h limit` / `⚠ 5h limit: only <1% left` (warnings).
        "limit_re": r"^[\s■🖐]*You" + _APOS + r"ve hit your usage limit\b",
        # signals §2.2: `■ unexpected status 401 Unauthorized: token expired`, `■ Codex ran out
        # of room in the model's context window. Start a new conversation ...` (a restart
        # starts one), `ERROR: No saved session found with ID <x>`.
        "fatal_re": (
            r"^[\s■]*unexpected status 401 Unauthorized\b"
            r"|^[\s■]*Codex ran out of room in the model" + _APOS + r"s context window"
            r"|^\s*ERROR: No saved session found with ID\b"
        ),
        # Approval overlay: `Would you like to run the following command?` ... `3. No, and
        # tell Codex what to do differently (esc)` (screens/codex/permission.txt), edits and
        # permissions variants (signals §2.2); trust: `Trust this folder? Codex can read, ...`
        # (screens/codex/trust_prompt.txt), older `Do you trust the contents of this
        # directory?` / `Yes, allow Codex to work in this folder`. NOT the model-switch menu
        # under the limit banner (`› 1. Switch to gpt-6-luna`, `enter select · esc back`).
        "prompt_re": (
            r"^\s*Would you like to (?:run the following command|make the following edits"
            r"|grant these permissions)\?"
            r"|^[\s›]*\d\. No, and tell Codex what to do differently"
            r"|^\s*Trust this folder\?"
            r"|^\s*Do you trust the contents of this directory\?"
            r"|Yes, allow Codex to work in this folder"
        ),
        "stall_idle": 300,
    },
    # Gemini CLI. A positional prompt is ONE-SHOT ("Positional prompt. Defaults to one-shot;
    # use -i/--prompt-interactive for interactive", google-gemini/gemini-cli packages/cli/
    # src/config/config.ts): `-i/--prompt-interactive <text>` runs the prompt and stays
    # interactive. `-m/--model`, `-r/--resume <id|index|latest>` (signals §3.1). The kickoff
    # is glued to its flag as ONE word (`--prompt-interactive=<text>`): yargs does not take a
    # separate value that starts with `-` (a markdown list, `---`) and exits with "Unknown
    # arguments".
    "gemini": {
        "signals": "gemini",
        "bin": "gemini",
        "prompt_delivery": "arg",
        "flags": "--prompt-interactive={kickoff_text}",
        "model_flag": "--model '{model}'",
        "supports_resume": True,
        "resume_flag": "--resume '{id}'",
        "continue_flag": "--resume latest",
        # delivery.md: `node`; Enter works after a short pause (typing code pauses).
        "process_name": "node",
        "submit_key": "Enter",
        # `⠴ Thinking... (esc to cancel, 3s)` above the idle composer, which stays visible
        # while busy (screens/gemini/working.txt, *_at_6s.txt, *_after_150s.txt: retries).
        "footer_ui": True,
        "active_re": r"esc to cancel",
        # `│ Usage limit reached for gemini-2.5-flash.` (screens/gemini/usage_limit_final.txt,
        # a dialog box whose `● 1. Keep trying` menu is not a dialog here), `✕ [API Error: You
        # have exhausted your daily quota on this model.]` (usage_limit_stopped.txt), older
        # `ℹ ⚡ You have reached your daily gemini-2.5-pro quota limit.` (signals §3.2). The
        # real screens print no reset time; current builds add `Access resets at 3:45 PM PST.`
        # on the next row, which screen.py reads.
        "limit_re": (
            r"^[\s│]*Usage limit reached\b"
            r"|^[\s│]*✕ \[API Error: You have exhausted your daily quota"
            r"|^[\s│ℹ⚡]*You have reached your daily \S+ quota limit"
        ),
        # signals §3.1/§3.2: `Invalid session identifier "7". Use --list-sessions ...` (a bad
        # resume id), `✕ [API Error: API key not valid. Please pass a valid API key.]`.
        "fatal_re": (
            r"^\s*Invalid session identifier\b"
            r"|^[\s│]*✕ \[API Error: API key not valid\b"
        ),
        # `│ Allow execution of [Shell]?` (screens/gemini/permission.txt), `Apply this
        # change?`, `Waiting for user confirmation...`; trust: `Do you trust the files in this
        # folder?` (screens/gemini/trust_prompt.txt), `Do you trust the following folders
        # being added to this workspace?` (signals §3.2).
        "prompt_re": (
            r"^[\s│]*Allow execution of\b|^[\s│]*Apply this change\?"
            r"|Waiting for user confirmation"
            r"|^[\s│]*Do you trust the (?:files in this folder|following folders)\b"
        ),
        "stall_idle": 300,
    },
    # opencode. The positional argument is the PROJECT PATH; the first prompt is `--prompt
    # <text>` (anomalyco/opencode packages/opencode/src/cli/cmd/tui/thread.ts; signals §4.1),
    # glued to it as one word like gemini's (yargs). `-m/--model provider/model`,
    # `-s/--session <id>`.
    "opencode": {
        "bin": "opencode",
        "prompt_delivery": "arg",
        "flags": "--prompt={kickoff_text}",
        "model_flag": "--model '{model}'",
        "supports_resume": True,
        "resume_flag": "--session '{id}'",
        "continue_flag": "--continue",
        # delivery.md: `opencode`; Enter submits (20/20).
        "process_name": "opencode",
        "submit_key": "Enter",
        # Footer `■■■■⬝⬝⬝⬝  esc interrupt` (screens/opencode/working.txt); while retrying
        # the knight-rider bar stays but the hint may give way to `[retrying in 5s attempt #3`
        # (signals §4.2).
        "footer_ui": True,
        # Your prompts and its errors are alike `┃` blocks; only the last is the current turn
        # (screens/opencode/overloaded_final.txt: an older "usage limit" block above).
        "message_gutter": "┃",
        # Retrying by itself is work: `[retrying in 7s #1]` after a rate limit (tests/
        # fixtures/screens-captured/opencode-1.18.33/ratelimit_retrying.txt).
        "active_re": r"\besc interrupt\b|^\s*[■⬝]{8}\s|\[retrying in \d",
        # `┃  The usage limit has been reached` (screens/opencode/usage_limit_final.txt),
        # `Free usage exceeded, subscribe to Go`, `(Usage|Free|Go) limit reached`, `This
        # request requires more credits` (signals §4.2). Not `Rate limit reached for
        # fake-model ... Please try again in 2s` (screens/opencode/ratelimit_final.txt).
        "limit_re": (
            r"^[\s┃]*(?:The )?usage limit has been reached"
            r"|^[\s┃]*(?:Usage|Free|Go) limit reached"
            r"|^[\s┃]*Free usage exceeded"
            r"|^[\s┃]*(?:This request )?requires more credits"
        ),
        # signals §4.2: `┃  API key not valid. Please pass a valid API key.`
        "fatal_re": r"^[\s┃]*API key not valid\b",
        # `┃  △ Permission required` ... `Allow once   Allow always   Reject ... enter confirm`
        # (screens/opencode/permission.txt), its `△ Always allow` / `△ Reject permission`
        # sub-dialogs and the question tool's `↑↓ select  enter submit  esc dismiss` (signals
        # §4.2). opencode has no trust dialog.
        "prompt_re": (
            r"△ Permission required|△ Always allow|△ Reject permission"
            r"|Allow once\s+Allow always\s+Reject"
            r"|enter submit\s+esc dismiss"
        ),
        "stall_idle": 300,
    },
    # aider. It has no "interactive with a first prompt" flag: `--message`/`--message-file`
    # process one message and EXIT (aider/args.py, signals §5.1), which a supervised agent
    # must not do. So: ping delivery (start the REPL, type the boot line pointing at the
    # kickoff file). Caveat: aider's model cannot read a file by itself, so it will likely
    # answer the boot line by proposing `cat <file>` (a `Run shell command? (Y)es/(N)o`
    # dialog) or by asking for /add. The model goes in AIDER_MODEL (aider reads every
    # option from AIDER_<OPTION>).
    # `attach` skips the start-up questions that would eat the typed boot line: update
    # check, release notes, "Add .aider* to .gitignore?" (aider/main.py). No resume: aider
    # has no session ids (`--restore-chat-history` reloads the one history file; and ping
    # delivery ignores resume_flag anyway).
    "aider": {
        "bin": "aider",
        "prompt_delivery": "ping",
        # aider's model cannot run `cat`, so the kickoff file joins the chat read-only at
        # launch (`--read FILE`, aider/args.py) and the boot line points at it.
        "attach": ("{bin} --no-check-update --no-show-release-notes --no-gitignore "
                   "--read {kickoff_file}"),
        "boot_line": ("Your full kickoff prompt is the read-only file {kickoff_file} in this "
                      "chat: follow it exactly."),
        "model_env": "AIDER_MODEL",
        "supports_resume": False,
        # aider is a Python console script: tmux reports the interpreter (`python3.12`, or
        # `python` in a venv), which `python` matches.
        "process_name": "python",
        "submit_key": "Enter",
        # `░█      Waiting for anthropic/claude-sonnet-4-6` (aider/waiting.py spinner, shown
        # until the first token; signals §5.2, §12.5). While the reply streams there is no
        # indicator: footer_ui makes the written session log count as work (log_grace).
        "footer_ui": True,
        "active_re": r"^\W*Waiting for \S",
        # aider has no plan limit of its own; a provider 429 prints `The API provider has
        # rate limited you. Try again later or check your quotas.` (aider/exceptions.py)
        # then `Retrying in 2.0 seconds...`; the spinner, started before the retry loop and
        # stopped by the first token (base_coder.send_message), keeps the screen active.
        # After ~60 s of retries aider returns to the prompt: a quota that is out. Holding
        # the agent then (limit_probe_fallback, one nudge) beats rebooting it into the 429.
        "limit_re": r"^\s*The API provider has rate limited you\b",
        # aider/exceptions.py AuthenticationError.
        "fatal_re": r"^\s*The API provider is not able to authenticate you\b",
        # Every confirmation: `Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: `
        # (aider/io.py confirm_ask; signals §5.2). Only an unanswered one: an answered row
        # (`[Yes]: y`) stays on screen after the answer.
        "prompt_re": r"\(Y\)es/\(N\)o[^\[\n]{0,80}\[(?:Yes|No)\]:$",
        "stall_idle": 300,
    },
}

# The flag that makes each CLI run tools without asking, for an explicit opt-in only (a
# config key such as `skip_permissions = true` on `[backend.NAME]`). Never part of a preset.
# Insert it right after `bin` (before resume words, the `--` that ends claude's and codex's
# options, and the prompt flag gemini and opencode need last); for ping delivery `{bin}` in
# `attach` then carries it too.
SKIP_PERMISSIONS: dict[str, str] = {
    # = `--permission-mode bypassPermissions` (docs.anthropic.com cli-reference, signals §1.1).
    # v2.1.41+ then shows a "Bypass Permissions mode" warning whose default is "No, exit"
    # (a dialog for prompt_re) unless settings.json has "skipDangerousModePermissionPrompt".
    # Refused when running as root (unless IS_SANDBOX=1).
    "claude": "--dangerously-skip-permissions",
    # alias `--yolo`: no approvals and no sandbox (signals §1.1, CAO codex.py).
    "codex": "--dangerously-bypass-approvals-and-sandbox",
    # `-y/--yolo` = `--approval-mode yolo`; not combinable with --approval-mode
    # (google-gemini/gemini-cli packages/cli/src/config/config.ts).
    "gemini": "--yolo",
    # The TUI gained `--yolo` (alias `--dangerously-skip-permissions`) in anomalyco/opencode
    # #33279 (2026-06); older builds only honour OPENCODE_PERMISSION='{"*":"allow"}'.
    "opencode": "--yolo",
    # "Always say yes to every confirmation" (aider/args.py, signals §5.1).
    "aider": "--yes-always",
}

