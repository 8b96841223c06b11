"""The `agents status` table: the fleet's header line and one row per agent, fitted to the
terminal's width (long values shortened, columns dropped by rank; pid, CPU and memory when
wide), printed once or redrawn live."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table

from agent_orchestrator.cli.render import duration

if TYPE_CHECKING:
    from agent_orchestrator.cli.status import FleetStatus, StatusRow
    from agent_orchestrator.config import Config

_STATE_STYLE = {"running": "green", "active": "green", "idle": "green",
                "disabled": "dim", "stopped": "dim", "done": "cyan",
                "crash-looping": "bold red", "exited": "red", "dialog": "magenta",
                "limited": "magenta", "backoff": "yellow"}


def status_table(fleet: FleetStatus, config: Config, width: int = 80) -> Group:
    """The header line and the table, fitted to `width` columns (see _rows_table)."""
    watchdog = (f"running (pid {fleet.watchdog_pid})" if fleet.watchdog_pid
                else "[red]not running[/red]")
    header = f"[bold]{escape(config.path.name)}[/bold]  watchdog: {watchdog}"
    if fleet.config_stale_since is not None:
        since = time.strftime("%H:%M", time.localtime(fleet.config_stale_since))
        good = f"last good {fleet.config_in_force}, " if fleet.config_in_force else ""
        header += f"  [red]config: stale ({good}since {since})[/red] (see `agents check`)"
    elif fleet.config_error is not None:
        header += "  [red]config: has errors (showing the last good one)[/red]"
    else:
        header += "  config: ok"
    if fleet.phase:
        header += f"  phase: {escape(fleet.phase)}"
    if not fleet.server_running:
        header += "  [yellow]tmux server not running[/yellow]"
    if fleet.degraded:
        header += (f"  [bold red]fleet degraded: {fleet.failing} of {fleet.supervised} "
                   "agents failing[/bold red]")
    return Group(header, _rows_table(fleet, width))


# status table columns, in order of display: (name, drop rank: the highest goes first,
# longest value shown); pid, CPU and memory come only with a wide terminal (WIDE)
_COLUMNS = (("agent", 0, 20), ("kind", 5, 10), ("backend", 4, 10), ("model", 6, 16),
            ("watch", 7, 10), ("state", 0, 24), ("pid", 8, 8), ("cpu", 8, 6),
            ("memory", 8, 7), ("uptime", 2, 6), ("restarts", 3, 8), ("last event", 1, 30))
_RIGHT = frozenset({"pid", "cpu", "memory", "uptime", "restarts"})
WIDE = 120


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"


def _cells(row: StatusRow) -> dict[str, str]:
    last = "-"
    if row.last_event:
        last = f"{row.last_event} {duration(row.last_event_age_s)} ago" + (
            " (earlier run)" if row.last_event_this_run is False else "")
    return {"agent": row.agent, "kind": row.kind, "backend": row.backend or "-",
            "model": row.model or "-", "watch": row.watch or "-", "state": row.detail,
            "pid": str(row.pid) if row.pid is not None else "-",
            "cpu": f"{row.cpu_pct:.0f}%" if row.cpu_pct is not None else "-",
            "memory": f"{row.rss_bytes / 2**20:.0f}M" if row.rss_bytes is not None else "-",
            "uptime": duration(row.uptime_s),
            "restarts": f"{row.restarts_1h}/{row.restarts_total}", "last event": last}


def _rows_table(fleet: FleetStatus, width: int) -> Table:
    """One line per agent within `width` columns: long values shortened, then columns
    dropped by rank until the rest fits."""
    cells = [{k: _short(v, most) for (k, _, most), v in zip(_COLUMNS, _cells(row).values(),
                                                             strict=True)}
             for row in fleet.rows]
    wide = width >= WIDE and any(row.pid is not None for row in fleet.rows)
    shown = [c for c in _COLUMNS if wide or c[1] < 8]
    size = {name: max([len(name)] + [len(c[name]) for c in cells]) for name, _, _ in shown}
    while sum(size[c[0]] for c in shown) + 2 * (len(shown) - 1) > width and \
            max(c[1] for c in shown) > 0:
        dropped = max(shown, key=lambda c: c[1])
        shown.remove(dropped)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, _, _ in shown:
        table.add_column(name, justify="right" if name in _RIGHT else "left", no_wrap=True,
                         overflow="ellipsis")
    for row, cell in zip(fleet.rows, cells, strict=True):
        style = _STATE_STYLE.get(row.state, "yellow")
        table.add_row(*(f"[{style}]{escape(cell[n])}[/{style}]" if n == "state"
                        else escape(cell[n]) for n, _, _ in shown))
    return table


def status(out: Console, fleet: FleetStatus, config: Config) -> None:
    out.print(status_table(fleet, config, out.width))


def status_live(out: Console, fetch: Callable[[], FleetStatus], config: Config,
                every: float = 1.0) -> None:
    """The status table redrawn every `every` seconds until Ctrl-C (KeyboardInterrupt)."""
    from rich.live import Live  # noqa: PLC0415 - only the live view needs it

    with Live(status_table(fetch(), config, out.width), console=out,
              auto_refresh=False) as live:
        while True:
            time.sleep(every)
            live.update(status_table(fetch(), config, out.width), refresh=True)
