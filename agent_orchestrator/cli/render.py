"""Everything the user sees: tables, styled lines, JSON, plain text and messages on stderr.
With statustable.py (the status table), the only module importing rich, and the only one in
cli/ that writes to stdout or stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from agent_orchestrator.cli.agentstatus import AgentDetail
    from agent_orchestrator.cli.doctor import Check
    from agent_orchestrator.config import Config, Phase
    from agent_orchestrator.core.explain import Explanation
    from agent_orchestrator.doors.transcript.turns import Turn
    from agent_orchestrator.runtime.fleet import Outcome

_ACTION_STYLE = {"started": "green", "stopped": "yellow", "running": "cyan",
                 "skipped": "dim", "absent": "dim"}


def console(stderr: bool = False) -> Console:
    """A console for the CLI; piped output gets a wide fixed width rather than 80 columns,
    so tables are not truncated in logs and scripts."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, soft_wrap=True,
                   width=None if stream.isatty() else 160)


def duration(seconds: float | None) -> str:
    """`42s`, `7m`, `3h05m`, `2d4h`; `-` when unknown."""
    if seconds is None:
        return "-"
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"
    return f"{seconds // 86400:.0f}d{seconds % 86400 // 3600:.0f}h"


def outcomes(out: Console, results: Sequence[Outcome]) -> None:
    for result in results:
        style = _ACTION_STYLE.get(result.action, "white")
        detail = f"  ({result.detail})" if result.detail else ""
        out.print(f"[{style}]{result.action:>8}[/{style}]  {result.session or result.name}"
                  f"{detail}")


def check_ok(out: Console, config: Config) -> None:
    enabled = sum(a.enabled for a in config.agents)
    out.print(f"[green]ok[/green]  {config.path}: {len(config.agents)} agents "
              f"({enabled} enabled), {len(config.services)} services, "
              f"session prefix '{config.session_prefix}'")


def selftest(out: Console, results: Sequence[tuple[str, bool, str]]) -> None:
    for name, ok, detail in results:
        mark = "[green]pass[/green]" if ok else "[red]FAIL[/red]"
        out.print(f"{mark}  {name}" + (f"  ({detail})" if detail and not ok else ""))


def explanation(out: Console, result: Explanation) -> None:
    who = f"agent {result.agent} ({result.backend})" if result.agent else \
        f"backend {result.backend}"
    from agent_orchestrator.core.explain import NOT_RUNNING

    out.print(f"[bold]{who}[/bold]: [bold]{result.state}[/bold] — {escape(result.why)}")
    if result.agent is not None and result.state in NOT_RUNNING:
        out.print("[dim]no running screen: nothing was judged[/dim]")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("regex", "pattern", "matched line"):
        table.add_column(column)
    for key, line in result.matches.items():
        pattern = result.patterns.get(key)
        table.add_row(key, escape(pattern or "(not set)"),
                      escape(line) if line else "[dim]no match[/dim]")
    out.print(table)
    if result.reset_at:
        out.print(f"reset time read from the banner: {result.reset_at}")
    if result.waiting_until:
        out.print(f"WAITING-UNTIL marker: {result.waiting_until}")
    if result.idle_seconds is not None:
        out.print(f"no work seen for {result.idle_seconds:.0f}s")
    if result.judged is not None:
        age = result.judged.get("age_s")
        out.print(f"the watchdog's verdict: {result.judged['state']} (from its "
                  f"{result.judged['source']}" + (f", {age:.0f}s ago)" if isinstance(
                      age, int | float) else ")"))
    for note in result.notes:
        out.print(f"[dim]note: {escape(note)}[/dim]")


_CHECK_STYLE = {"ok": "green", "info": "dim", "warn": "yellow", "fail": "bold red"}


def doctor(out: Console, checks: Sequence[Check]) -> None:
    for check in checks:
        style = _CHECK_STYLE.get(check.status, "white")
        out.print(f"[{style}]{check.status:>4}[/{style}]  {escape(check.name)}: "
                  f"{escape(check.detail)}")


_TURN_STYLE = {"user": "bold cyan", "assistant": "bold green", "error": "bold red"}


def _clock(stamp: str | None) -> str:
    """An ISO timestamp from a transcript as local HH:MM:SS ("" if absent or unreadable)."""
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone() \
            .strftime("%H:%M:%S")
    except ValueError:
        return ""


def transcript(out: Console, turns: Iterable[Turn]) -> None:
    """An agent's conversation, printed as the turns come (`turns` may be a live follow())."""
    for turn in turns:
        when = _clock(turn.time)
        stamp = f"[dim]{when}[/dim] " if when else ""
        lines = escape(turn.text).splitlines()
        if turn.role == "tool":  # a tool's result, under its call
            style = "red" if turn.is_error else "dim"
            for index, line in enumerate(lines or ["(no output)"]):
                out.print(f"  [{style}]{'⎿  ' if index == 0 else '   '}{line}[/{style}]")
            if turn.result_lines:
                out.print(f"     [dim]… folded: {turn.result_lines} lines in all[/dim]")
        elif turn.tool:  # a tool call
            out.print(f"{stamp}[yellow]●[/yellow] [bold]{escape(turn.tool)}[/bold]"
                      f"([dim]{escape(turn.tool_input or '')}[/dim])")
        elif turn.thinking:
            shown = lines[:3] + (["…"] if len(lines) > 3 else [])
            out.print(f"{stamp}[dim italic]✻ " + "\n  ".join(shown) + "[/dim italic]")
        elif turn.role == "system":  # a note from the CLI: one line is enough
            raw = turn.text.splitlines() or [""]
            first = raw[0] if len(raw[0]) <= 120 else raw[0][:119] + "…"
            more = f" (+{len(raw) - 1} lines)" if len(raw) > 1 else ""
            out.print(f"{stamp}[dim]── {escape(first)}{more}[/dim]")
        else:  # user, assistant, error
            style = _TURN_STYLE.get(turn.role, "bold")
            out.print(f"\n{stamp}[{style}]{turn.role}[/{style}]")
            for line in lines:
                out.print(f"  {line}" if line else "")


_EVENT_STYLE = {"restart": "yellow", "start": "green", "adopt": "dim", "crash-loop": "bold red",
                "stall-reboot": "yellow", "limit": "magenta", "limit-over": "magenta",
                "config-rejected": "red", "verify-failed": "red", "phase-advance": "cyan",
                "sequence-complete": "bold cyan", "tmux-server-gone": "bold red",
                "fleet-degraded": "bold red", "fleet-recovered": "green",
                "backoff": "yellow", "throttled": "yellow", "crash-loop-cleared": "green",
                "backoff-cleared": "green", "up": "green", "down": "yellow",
                "verify-done": "cyan", "phase-set": "cyan"}


def event(out: Console, record: dict[str, object]) -> None:
    """One events.jsonl record as a line: local time, agent, event, reason."""
    stamp = str(record.get("time") or "")
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone() \
            .strftime("%m-%d %H:%M:%S")
    except ValueError:
        when = stamp
    kind = str(record.get("event") or "?")
    style = _EVENT_STYLE.get(kind, "white")
    out.print(f"[dim]{when}[/dim] {escape(str(record.get('agent') or '-')):<12} "
              f"[{style}]{escape(kind):<16}[/{style}] {escape(str(record.get('reason') or ''))}")


# ---------------------------------------------------------------------------- plain output
# Printed as they are, not through rich: names, paths and JSON may hold `[...]`, which rich
# would read as markup, and scripts read these bytes.


def notice(text: str) -> None:
    """A message on stderr: errors, notes, which file a verb read."""
    print(f"agents: {text}", file=sys.stderr)


def json_document(data: object, ensure_ascii: bool = False) -> None:
    """One indented JSON document (`status --json` keeps its ASCII escapes, as ever)."""
    print(json.dumps(data, indent=2, ensure_ascii=ensure_ascii))


def json_line(data: object) -> None:
    """One JSON Lines record, flushed at once: a reader may be following us."""
    print(json.dumps(data, ensure_ascii=False), flush=True)


def log_bytes(data: bytes) -> None:
    """Session log bytes as written (`logs --raw`)."""
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def log_lines(lines: Sequence[str]) -> None:
    """Rendered session log lines (`logs`), flushed at once: a reader may be following."""
    if lines:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


def phases(loop_phases: Sequence[Phase], current: int, states: Sequence[str],
           source: str) -> None:
    """`agents phase show`: each phase numbered from 1, an arrow at the current one, what
    its status file says (`states`, read from `source`)."""
    total = len(loop_phases)
    for index, (phase, state) in enumerate(zip(loop_phases, states, strict=True)):
        mark = "→" if index == current else " "
        models = ", ".join(f"{r}={m}" for r, m in phase.models) or "agents' own models"
        print(f"{mark} {index + 1}/{total}  {phase.id:<16} {state:<8} {phase.status}  "
              f"({models})")
    print(f"status files: {source}")


def sequence_complete() -> None:
    print("the sequence is complete (SEQUENCE-COMPLETE written); `agents phase set N` runs "
          "phase N again")


def phase_moved(target: int, total: int, phase: Phase, reopened: bool = False) -> None:
    again = "; the sequence runs again from there" if reopened else ""
    print(f"phase {target + 1}/{total}: {phase.id} (the watchdog restarts the loop agents "
          f"on it{again})")


def scaffolded(written: Iterable[Path], folder: str, loop_demo: bool) -> None:
    """`agents init`: the files written and what to run next."""
    import shlex

    for path in written:
        print(f"wrote {path}")
    go = "" if Path(folder) == Path(".") else f"cd {shlex.quote(folder)} && "
    if loop_demo:
        print(f"next: {go}agents up   (then watch: agents status --watch, agents events -f)")
        return
    print(f"next: {go}agents check && agents up   # starts the demo agents")
    print("      for real work, first set `backend` (claude, codex, ...) in agents.toml and "
          "write PLAN.md")


def sent(result: dict[str, object]) -> None:
    """`agents send`: what became of the text."""
    if result["queued"] is not None:
        why = f"{result['detail']}" if result["delivered"] is False else ""
        print((why.removesuffix("; queued for its next idle moment") + ".\n" if why else "")
              + f"queued for {result['agent']} as {result['queued']}: typed at its next "
              "idle moment")
    else:
        word = "delivered" if result["delivered"] else "NOT delivered"
        print(f"{word} to {result['agent']}: {result['detail']}")


def agent_detail(detail: AgentDetail) -> None:
    """`agents status NAME`: one agent, a line per fact, its events and its screen."""
    row = detail.row
    print(f"{row.agent}  ({row.kind}, backend {row.backend}, model {row.model or '-'}, "
          f"watch {row.watch}, session {row.session})")
    print(f"  state      {row.state}: {row.detail}" + (
        f"  (judged {detail.judged_state} from its {detail.judged_source}, "
        f"{duration(detail.judged_age_s)} ago)" if detail.judged_state else ""))
    if detail.pid is not None:
        memory = f"{detail.rss_bytes / 2**20:.0f} MiB" if detail.rss_bytes is not None \
            else "-"
        print(f"  process    pid {detail.pid}, {detail.processes} process(es), "
              f"CPU {detail.cpu_pct}%, memory {memory}")
    print(f"  uptime     {duration(row.uptime_s)}")
    if detail.limit_left_s is not None:
        reset = datetime.fromtimestamp(detail.limit_reset).strftime("%Y-%m-%d %H:%M") \
            if detail.limit_reset else "unreadable"
        print(f"  limit      held {duration(detail.limit_left_s)} more (reset {reset}, "
              f"seen on its {detail.limit_source})")
    if detail.backoff_left_s is not None:
        print(f"  back-off   restart in {duration(detail.backoff_left_s)} "
              f"(failure {detail.failures} in a row)")
    if detail.crash_looping_since is not None:
        print(f"  crash loop since {datetime.fromtimestamp(detail.crash_looping_since):%H:%M}"
              f" (`agents restart {row.agent}` clears it)")
    print(f"  restarts   {row.restarts_1h} in the last hour, {row.restarts_total} in all "
          "(by the watchdog)")
    for record in detail.restarts[-5:]:
        print(f"    {_clock(str(record.get('time')))}  {record.get('event')}: "
              f"{record.get('reason')}")
    print("  last events")
    for record in detail.events:
        print(f"    {_clock(str(record.get('time')))}  {record.get('event')}: "
              f"{record.get('reason')}")
    if detail.screen is not None:
        print("  screen")
        for line in detail.screen.splitlines():
            print(f"    │ {line}")
