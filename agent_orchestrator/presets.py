"""Built-in backend presets.

A preset is the raw `[backend.NAME]` table a user would otherwise write. `backend = "demo"`
works with no table at all; a user table of the same name overrides preset keys one by one
(the merge happens in config.py before validation, so presets are validated like user input).

`{python}` in `bin` is replaced at launch by the interpreter running agent-orchestrator, so
the demo agent runs from the same environment whatever PATH the tmux server inherited.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # The bundled fake agent (agent_orchestrator/fakeagent.py). Its screens copy Claude Code's,
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
}


def preset_names() -> list[str]:
    return sorted(PRESETS)
