"""The only door to tmux.

Every tmux process of the project is started here, and every tmux command goes through
`Tmux._run`: an argument list (never a shell string), a timeout (a hung server must not hang
the watchdog), and an error that names the tmux subcommand that failed. Sessions are always
addressed exactly: `=NAME` for session commands and `=NAME:` for pane commands (tmux 3.3a
does not resolve `=NAME` for panes), so `proj-a` never matches `proj-ab`.

A whole tick's view of the fleet is ONE `list-panes -a` (why no libtmux: README, Design).
What tmux prints is read by doors/tmuxparse.py; its control-mode clients, by tmuxcontrol.py.

Failure modes handled here (tests/reliability/test_tmux_cases.py):
- a hung server (SIGSTOPped, wedged): every call has a timeout, and after one timed out the
  next calls fail at once with the same error for `timeout` seconds, so one tick of the
  watchdog costs at most one timeout, however many calls it had planned;
- an unsafe socket folder (`$TMUX_TMPDIR/tmux-UID` with loose mode, foreign owner, or a
  symlink): refused before any tmux process is spawned, with a message naming the folder and
  what it must be, so nothing retries tmux in a loop;
- the server killed: "no server" is a state (`Snapshot.server_running`), not an error, and a
  new session that races the dying server is retried;
- scrollback: every agent pane gets `history-limit` HISTORY_LIMIT whatever the user's
  tmux.conf says, so a chatty agent costs the server a bounded amount of memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence

from agent_orchestrator.core.observed import Snapshot
from agent_orchestrator.doors import cgroups, orphans, proctree, ssh, tmuxparse, tmuxsocket

DEFAULT_TIMEOUT = 5.0
REAP_PAUSES = (0.02, 0.05, 0.15)  # waits after nudging the server to reap a dead pane
CHAIN_BYTES = 12_000  # argv bytes per chained client; tmux refuses commands over ~16 KB
PANE_WIDTH, PANE_HEIGHT = 120, 40
# Scrollback lines kept per agent pane: tmux's own default, pinned so that a tmux.conf with a
# huge limit cannot let an agent printing hundreds of MB cost the server ~1 KB per line of it
# (~2.2 MB per pane at this limit, see shared/reference/tmux-performance.md). Nothing of ours
# reads past the visible screen; the whole output is in the session log.
HISTORY_LIMIT = 2000
# A throwaway first window: tmux sizes a pane's scrollback when the pane is created, so the
# agent's window is created after `history-limit` is set on its session (see `start`).
_PLACEHOLDER = ("cat",)


class TmuxError(RuntimeError):
    """A tmux command failed or timed out. The message names the subcommand."""


class SessionExists(TmuxError):
    """`start` found a session of that name already there (someone started it first)."""


class HostUnreachable(TmuxError):
    """The tmux server is on another host, and ssh could not reach it (or its key is not
    known): a fact about the link, not about tmux or any session on it."""


class Tmux:
    """A handle on one tmux server: the default one, a named socket (`-L`) or a path (`-S`),
    on this machine or, with `remote`, on another host (every tmux client then runs there,
    through that host's ssh connection: the same commands, each word quoted)."""

    def __init__(self, socket_name: str | None = None, socket_path: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, remote: ssh.Connection | None = None) -> None:
        self.socket_name = socket_name
        self.socket_path = socket_path
        self.timeout = timeout
        self.remote = remote
        self._hung_until = float("-inf")  # monotonic time before which calls fail at once
        self._hung_error = ""

    def check_socket_dir(self) -> None:
        """Raise TmuxError, naming the folder and what it must be, when tmux would refuse
        its socket folder. Costs one lstat; spawns nothing (a remote one's is its tmux's)."""
        if self.remote is not None:
            return
        refused = tmuxsocket.refusal(self.socket_name, self.socket_path)
        if refused is not None:
            raise TmuxError(refused)

    def checked(self) -> Tmux:
        """This handle, after `check_socket_dir` (for callers that refuse to start)."""
        self.check_socket_dir()
        return self

    def _base(self) -> list[str]:
        if self.socket_path:
            return ["tmux", "-S", self.socket_path]
        if self.socket_name:
            return ["tmux", "-L", self.socket_name]
        return ["tmux"]

    def _argv(self, args: Sequence[str], *ssh_options: str, utf8: bool = True) -> list[str]:
        """The local argv of one tmux client running `args` (over ssh for a remote one).
        `-u`: without a UTF-8 locale (ssh sessions often have none) tmux prints every tab
        of a format as `_`, and a snapshot row could not be split into its fields."""
        local = self._base() + (["-u"] if utf8 else []) + list(args)
        return local if self.remote is None else self.remote.argv(local, *ssh_options)

    def _run(self, args: Sequence[str], *, stdin: bytes | None = None,
             timeout: float | None = None, check: bool = True,
             preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
        argv = self._argv(args)
        if time.monotonic() < self._hung_until:
            # The same text: reported once, not per call.
            raise (HostUnreachable if self.remote else TmuxError)(self._hung_error)
        self.check_socket_dir()  # before every spawn: a loop never retries a refused folder
        limit = timeout or self.timeout
        try:
            result = _spawn(argv, stdin, limit, preexec)
        except subprocess.TimeoutExpired:
            where = f"host {self.remote.target.name}" if self.remote else "the tmux server"
            self._hung_error = f"tmux {args[0]} timed out after {limit:g}s (is {where} hung?)"
            self._hung_until = time.monotonic() + limit
            raise (HostUnreachable if self.remote else TmuxError)(self._hung_error) from None
        if self.remote is not None and result.returncode == 255:  # ssh's own failure
            raise HostUnreachable(str(ssh.classify(self.remote.target, result.stderr)))
        if check and result.returncode != 0:
            reason = result.stderr.strip() or f"exit status {result.returncode}"
            raise TmuxError(f"tmux {args[0]} failed: {reason}")
        return result

    def snapshot(self) -> Snapshot:
        """Every session's first pane, in ONE tmux call (a few more when a dead pane lacks
        its exit status, see `_nudge_reaper`)."""
        snap = self._snapshot()
        # A pane is marked dead when its pty closes, a moment before its process is reaped:
        # a busy machine may need more than one look to see the status.
        for pause in REAP_PAUSES:
            if not any(p.dead and p.exit_status is None and p.exit_signal is None
                       for p in snap.panes.values()):
                break
            self._nudge_reaper(pause)
            snap = self._snapshot()
        return snap

    def _snapshot(self) -> Snapshot:
        result = self._run(["list-panes", "-a", "-F", tmuxparse.SNAPSHOT_FORMAT], check=False)
        if result.returncode != 0:
            # "no current target": a server whose last session just closed, about to exit.
            if tmuxparse.no_server(result.stderr) or "no current target" in result.stderr:
                return Snapshot(server_running=False)
            raise TmuxError(f"tmux list-panes failed: {result.stderr.strip()}")
        return Snapshot(server_running=True, panes=tmuxparse.parse_snapshot(result.stdout))

    def _nudge_reaper(self, pause: float) -> None:
        """Make the server reap a dead pane's process so its exit status shows.

        tmux 3.3a built with utempter can miss a SIGCHLD (tmux/tmux#311): the pane is dead but
        its process stays an unreaped zombie with no `pane_dead_status`, for good. A SIGCHLD
        sent to the server makes it run its reaping loop; it has no other effect.
        """
        try:
            pid = int(self._run(["display-message", "-p", "#{pid}"]).stdout.strip())
            _ = (self.remote.run(["kill", "-CHLD", str(pid)]) if self.remote
                 else os.kill(pid, signal.SIGCHLD))
        except (TmuxError, ssh.SshError, ValueError, ProcessLookupError, PermissionError):
            return
        time.sleep(pause)

    def capture(self, target: str, lines: int = PANE_HEIGHT) -> str:
        """The last `lines` lines of a pane (visible screen and scrollback); `target` is a
        session name or a pane id (`%N`)."""
        result = self._run(["capture-pane", "-p", "-J", "-t", _pane_target(target),
                            "-S", f"-{max(lines - PANE_HEIGHT, 0)}"])
        text = result.stdout.rstrip("\n")
        return "\n".join(text.split("\n")[-lines:])

    def capture_many(self, sessions: Iterable[str]) -> dict[str, str]:
        """Screens of several sessions, chained into as few tmux clients as the 16 KB
        command limit allows (one spawn per tick instead of one per pane). A session that
        vanished meanwhile is left out: it aborts the rest of its chain, which is retried
        without it."""
        pending = list(sessions)
        screens: dict[str, str] = {}
        while pending:
            batch = tmuxparse.fit_chain(pending, CHAIN_BYTES)
            done = self._capture_chain(batch, screens)
            if done == 0 and batch:
                done = 1  # the first one failed: skip it
            pending = pending[done:]
        return screens

    def _capture_chain(self, batch: list[str], screens: dict[str, str]) -> int:
        """Capture `batch` in one client; return how many sessions were dealt with."""
        nonce = f"@@agents-{os.getpid()}-{time.monotonic_ns()}@@"
        try:
            result = self._run(tmuxparse.capture_chain(batch, nonce), check=False)
        except TmuxError:  # hung: screens are best effort, the next snapshot reports it
            return len(batch)
        found = tmuxparse.parse_captures(result.stdout, nonce)
        if result.returncode == 0:
            screens.update(found)
            return len(batch)
        if tmuxparse.no_server(result.stderr):
            return len(batch)  # nothing left to capture
        # A `;` chain stops at the first failing command: the last marker printed is the
        # session that vanished; everything before it was captured.
        started = list(found)
        screens.update((session, found[session]) for session in started[:-1])
        return len(started)

    def version(self) -> str:
        """tmux's version as `tmux -V` prints it (`3.3a`, `next-3.5`, `openbsd-7.4`); raises
        TmuxError when tmux is missing or answers something else. Asks no server, so no
        socket folder is checked."""
        try:
            result = _spawn(self._argv(["-V"]), None, self.timeout)
        except (TmuxError, subprocess.TimeoutExpired) as exc:
            raise TmuxError(f"cannot read the tmux version: {exc}") from None
        if (version := tmuxparse.parse_version(result.stdout)) is None:
            said = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
            raise TmuxError(f"cannot read the tmux version: {said}")
        return version

    # ------------------------------------------------------------------ acting

    def start(self, session: str, argv: Sequence[str], pipe: str | None = None) -> None:
        """Create a detached session running `argv` directly (no shell), remain-on-exit on.

        `argv` must not contain user text: tmux splits its own argv on `;` words, so callers
        pass a fixed launcher command and put the user's command in a file it reads.
        With `pipe`, a shell command, the pane's output is piped into it from the start
        (launch.py passes logcap's, which appends it to the session log, bounded).
        """
        # One client: a placeholder window gets the scrollback limit, the agent's pane made
        # next is made under it (set later, it would not shrink), then the placeholder goes.
        # Not `new-window -k`: with a control client on, tmux 3.3a then crashed (SIGSEGV)
        # when the session was killed later, about 1 time in 15.
        args = ["new-session", "-d", "-s", session, "-x", str(PANE_WIDTH),
                "-y", str(PANE_HEIGHT), "--", *_PLACEHOLDER,
                ";", "set-option", "-t", f"={session}:", "history-limit", str(HISTORY_LIMIT),
                ";", "new-window", "-t", f"={session}:", "--", *argv,
                ";", "kill-window", "-t", f"={session}:{{start}}",
                ";", "set-option", "-w", "-t", f"={session}:", "remain-on-exit", "on"]
        if pipe:
            args += [";", "pipe-pane", "-o", "-t", f"={session}:", pipe]
        leave = cgroups.leaving() if self.remote is None else None  # a server it may start
        for attempt in range(3):
            result = self._run(args, check=False, preexec=leave)
            # A server still exiting after kill-server drops the client: nothing was
            # created, and the next try starts a new server.
            if result.returncode == 0 or "server exited unexpectedly" not in result.stderr \
                    or attempt == 2:
                break
            time.sleep(0.05)
        if result.returncode != 0:
            reason = result.stderr.strip() or f"exit status {result.returncode}"
            if "duplicate session" in reason:  # not ours: leave it alone
                raise SessionExists(f"tmux new-session failed: {reason}")
            with contextlib.suppress(TmuxError):  # ours, half made (a placeholder): undo
                self.kill(session)
            raise TmuxError(f"tmux new-session failed: {reason}")

    def kill(self, session: str) -> bool:
        """Kill a session; True if it existed. The pane's process tree is the caller's."""
        result = self._run(["kill-session", "-t", f"={session}"], check=False)
        if result.returncode == 0:
            return True
        if tmuxparse.no_server(result.stderr) or "can't find session" in result.stderr:
            return False
        raise TmuxError(f"tmux kill-session failed: {result.stderr.strip()}")

    def paste(self, target: str, text: str, buffer: str) -> None:
        """Put `text` into the input of `target` byte for byte, without submitting it.

        The text goes into a NAMED buffer (never tmux's global one, which a human may be
        using) and is pasted with bracketed paste, so no byte of it is parsed by tmux
        (`send-keys` would drop a trailing `;`) or seen as a key by the program. A text of
        up to ATOMIC_PASTE bytes is set and pasted by ONE tmux command list, during which no
        other client's command runs: a human's plain `paste-buffer` (which takes the newest
        buffer, named or not) can never catch it. A longer one is loaded through stdin
        first (a tmux client's command line is limited to 16 KB), which leaves that short
        window. `target` is a session name or a pane id (`%N`). The named buffer never
        outlives the call, also when the paste fails.
        """
        data = text.encode("utf-8", "surrogateescape")
        paste = ["paste-buffer", "-p", "-d", "-b", buffer, "-t", _pane_target(target)]
        try:
            if len(data) <= ATOMIC_PASTE and "\0" not in text:
                # tmux ends a command at an argument ending in `;`; `\;` there stands for `;`.
                word = text[:-1] + "\\;" if text.endswith(";") else text
                try:
                    self._run(["set-buffer", "-b", buffer, "--", word, ";", *paste])
                except TmuxError as exc:  # the paste is what fails (e.g. the pane is gone)
                    raise TmuxError(str(exc).replace("set-buffer", "set-buffer/paste-buffer",
                                                     1)) from None
                return
            self._run(["load-buffer", "-b", buffer, "-"], stdin=data)
            self._run(paste)
        except TmuxError:
            # paste-buffer -d deletes the buffer only when the paste ran: don't leave the
            # text (a prompt may hold secrets) lying in the server (the pane vanished, the
            # server is hung).
            with contextlib.suppress(TmuxError):
                self._run(["delete-buffer", "-b", buffer], check=False)
            raise

    def send_keys(self, target: str, *keys: str) -> None:
        """Press named keys (`Enter`, `C-m`, `Escape`) in `target` (session name or `%N`)."""
        self._run(["send-keys", "-t", _pane_target(target), *keys])

    def attach_argv(self, session: str, switch: bool) -> list[str]:
        """The command line that puts the user's terminal on exactly `session`:
        `switch-client` for a client of this server already (`switch`), else attach."""
        args = ["switch-client" if switch else "attach-session", "-t", f"={session}"]
        # The user's own terminal decides UTF-8; a remote client needs ssh's terminal.
        return self._argv(args, "-t", utf8=False)

    def attach_control(self, session: str, own: bool = False) -> subprocess.Popen[bytes]:
        """Start a control-mode client attached to `session` (`own`: a session made for it,
        running `cat`), stdin and stdout piped (doors/tmuxcontrol.py reads it; closing its
        stdin detaches it); `ignore-size,no-output`: it resizes nothing, sees no output."""
        how = ["new-session", "-A", "-s", session] if own else ["attach-session", "-t",
                                                                  f"={session}"]
        return subprocess.Popen(
            self._argv(["-C", *how, "-f", "ignore-size,no-output", *(["cat"] if own else [])]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=proctree.untagged(os.environ),
            # Never outlives a killed watchdog (T48); out of an agent's run (cgroups.py).
            preexec_fn=cgroups.leaving(orphans.die_with_parent) if own
            else orphans.die_with_parent)


# Bytes of text pasted by one atomic tmux command list (set-buffer + paste-buffer); the
# client's whole command line must stay under tmux's 16 KB message size.
ATOMIC_PASTE = 8 * 1024


def _spawn(argv: list[str], stdin: bytes | None, timeout: float,
           preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one tmux client to its end; raises TmuxError when there is no tmux to run."""
    try:
        return subprocess.run(argv, input=stdin.decode("utf-8", "surrogateescape")
                              if stdin is not None else None, capture_output=True, text=True,
                              errors="replace", timeout=timeout, check=False,
                              env=proctree.untagged(os.environ), preexec_fn=preexec)
    except FileNotFoundError:
        raise TmuxError("tmux is not installed (no 'tmux' on PATH)") from None


def _pane_target(target: str) -> str:
    return target if target.startswith("%") else f"={target}:"

