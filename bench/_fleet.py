"""Shared helpers for the benches: isolation, a fleet config, tmux calls, CPU counters.

Isolation (every bench uses `Sandbox` before it runs any tmux command):
- a fresh temp dir holds the config, logs and state; `TMUX_TMPDIR` points at a fresh folder
  inside it and `TMUX` is unset, so no tmux call can reach the user's default server;
- every server is private: `tmux -L bench-<pid>[-tag]`, killed with `kill-server` at the end;
- processes are stopped by pid only: the watchdogs we started, and leftovers carrying the
  orchestrator's launch tag of one of OUR sockets (`AGENT_ORCHESTRATOR_TAG=bench-<pid>…/…`).
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

TAG_VAR = "AGENT_ORCHESTRATOR_TAG"  # see agent_orchestrator/doors/proctree.py
# Agent workloads: name → (backend `bin`, its `process_name`).
WORKLOADS = {
    "sleep": ("sleep 100000", "sleep"),  # quiet: never prints
    "date": ("sh -c 'while :; do date; sleep 1; done'", "sh"),  # prints once a second
}
# A `fatal_re` that never matches: it makes a `watch = "heal"` agent's screen worth reading,
# so light ticks capture the panes that printed (screenrules.screens_wanted).
NEVER_MATCHES = "BENCH-NEVER-MATCHES-[0-9]{40}"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A bench cannot go on; the message says what was being waited for."""


# --------------------------------------------------------------------------- isolation

class Sandbox:
    """A temp dir, a private TMUX_TMPDIR and the sockets/pids to clean up on `close()`."""

    def __init__(self, tag: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"bench-{tag}-"))
        tmux_dir = self.root / "tmux"
        tmux_dir.mkdir(mode=0o700)
        os.environ["TMUX_TMPDIR"] = str(tmux_dir)
        os.environ["XDG_RUNTIME_DIR"] = str(tmux_dir)  # the fleet's launch files: ours too
        os.environ.pop("TMUX", None)
        os.environ.pop("TMUX_PANE", None)
        self.sockets: list[str] = []
        self.pids: list[tuple[int, str]] = []  # (pid, text its cmdline must contain)
        self.mounts: list[Path] = []  # unmounted on close, before the temp dir goes

    def socket(self, suffix: str = "") -> str:
        name = f"bench-{os.getpid()}" + (f"-{suffix}" if suffix else "")
        self.sockets.append(name)
        return name

    def tiny_tmpfs(self, folder: Path, size: str = "2m") -> None:
        """Mount a tmpfs of `size` on `folder` (needs root), unmounted on close."""
        folder.mkdir(parents=True, mode=0o700)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                               str(folder)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"cannot mount a tmpfs on {folder}: {done.stderr.strip()}")
        self.mounts.append(folder)

    def own_pid(self, pid: int, marker: str) -> None:
        """Stop `pid` on close, if its cmdline still contains `marker` (pid reuse guard)."""
        self.pids.append((pid, marker))

    def close(self) -> None:
        for pid, marker in self.pids:
            stop_pid(pid, marker)
        for socket in self.sockets:
            kill_server(socket)
        for socket in self.sockets:
            for pid in tagged_pids(socket):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for mount in self.mounts:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def stop_pid(pid: int, marker: str, grace: float = 3.0) -> None:
    """SIGTERM then SIGKILL one process of ours, checked by its cmdline."""
    if marker not in cmdline(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and marker in cmdline(pid) and not _zombie(pid):
        time.sleep(0.05)
    if marker in cmdline(pid) and not _zombie(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
    except OSError:
        return True


def tagged_pids(socket: str) -> list[int]:
    """Processes whose environment carries the launch tag of one of our sockets."""
    needle = f"{TAG_VAR}={socket}/".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def kill_server(socket: str) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10,
                       check=False)


# --------------------------------------------------------------------------- tmux

def tmux(socket: str, *args: str, timeout: float = 10.0, check: bool = True) -> str:
    """Run one tmux command on the private server; its stdout."""
    argv = ["tmux", "-L", socket, *args]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"tmux {args[0]} timed out after {timeout:g}s") from None
    if check and result.returncode != 0:
        raise BenchError(f"tmux {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def panes(socket: str) -> dict[str, tuple[int, bool, str]]:
    """session → (pane pid, dead, current command) of its first pane."""
    out = tmux(socket, "list-panes", "-a", "-F",
               "#{session_name}\t#{pane_pid}\t#{pane_dead}\t#{pane_current_command}",
               check=False)
    found: dict[str, tuple[int, bool, str]] = {}
    for row in out.splitlines():
        parts = row.split("\t")
        if len(parts) == 4 and parts[0] not in found:
            found[parts[0]] = (int(parts[1] or 0), parts[2] == "1", parts[3])
    return found


def server_pid(socket: str) -> int:
    text = tmux(socket, "display-message", "-p", "#{pid}").strip()
    if not text.isdigit():
        raise BenchError(f"cannot read the tmux server pid (got {text!r})")
    return int(text)


def wait_for(what: str, check: Callable[[], bool], timeout: float,
             interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


class Control:
    """Our own tmux control-mode client: notifications with arrival times, and commands
    answered over the same pipe (~0.1 ms instead of a ~2-3 ms client spawn)."""

    def __init__(self, socket: str, session: str) -> None:
        self.proc = subprocess.Popen(
            ["tmux", "-L", socket, "-C", "attach-session", "-t", f"={session}",
             "-f", "ignore-size,no-output"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            bufsize=0)
        self.notes: queue.Queue[tuple[float, str]] = queue.Queue()
        self._replies: queue.Queue[tuple[bool, list[str]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True, name="bench-control")
        self._thread.start()
        self.command("display-message -p ready")  # swallows the attach's own reply first

    def _read(self) -> None:
        assert self.proc.stdout is not None
        block: list[str] | None = None
        for raw in self.proc.stdout:
            stamp = time.perf_counter()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if block is not None:
                if line.startswith(("%end ", "%error ")):
                    self._replies.put((line.startswith("%end"), block))
                    block = None
                else:
                    block.append(line)
            elif line.startswith("%begin "):
                block = []
            else:
                self.notes.put((stamp, line))
        self._replies.put(None)
        self.notes.put((time.perf_counter(), "%eof"))

    def command(self, line: str, timeout: float = 5.0) -> list[str]:
        """Send one command line; its output lines. Replies come back in order."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        while True:
            try:
                reply = self._replies.get(timeout=timeout)
            except queue.Empty:
                raise BenchError(f"control client: no reply to {line!r} in {timeout:g}s") \
                    from None
            if reply is None:
                raise BenchError("control client ended (tmux server gone?)")
            ok, lines = reply
            if line.startswith("display-message -p ready") and lines != ["ready"]:
                continue  # the attach-session reply
            if not ok:
                raise BenchError(f"control command {line!r} failed: {' '.join(lines)}")
            return lines

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- config

def write_config(folder: Path, socket: str, names: Iterable[str], *, prefix: str,
                 bin_text: str, process_name: str, watchdog: dict[str, float],
                 fatal_re: str | None = None, watch: str = "heal") -> Path:
    """An agents.toml for a fleet of one custom backend (`bench`), every agent `watch`ed."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[defaults]", f'session_prefix = "{prefix}"', 'log_dir = "logs"',
             f'tmux_socket = "{socket}"', 'backend = "bench"', f'watch = "{watch}"', "",
             "[watchdog]"]
    lines += [f"{key} = {value}" for key, value in watchdog.items()]
    lines += ["", "[backend.bench]", f"bin = {_toml_str(bin_text)}",
              f'process_name = "{process_name}"']
    if fatal_re is not None:
        lines.append(f"fatal_re = {_toml_str(fatal_re)}")
    for name in names:
        lines += ["", "[[agent]]", f'name = "{name}"']
    path = folder / "agents.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_str(text: str) -> str:
    return "'" + text + "'" if "'" not in text else '"' + text.replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- counters

def schedstat_ns(pid: int) -> int:
    """CPU time (ns) of every thread of `pid`, from /proc/PID/task/*/schedstat."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as handle:
                total += int(handle.read().split()[0])
    return total


def reaped_children_ticks(pid: int) -> int:
    """cutime + cstime of `pid` (clock ticks): CPU of the children it has reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[-1].split()
    except OSError:
        return 0
    return int(fields[13]) + int(fields[14])


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def python() -> str:
    return sys.executable
