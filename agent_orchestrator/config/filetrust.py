"""Whether a file that decides what agents run or are told may be used (reliability T08).

The config file and every prompt it names (`prompt_file`, wake prompt files, role files, the
kickoff template) steer agents that often run with permission checks off. Whoever can write
one of them can make an agent do anything the user could. The SPEC is silent on this; the
policy here is ours, in the spirit of ssh's StrictModes:

- symlinks are followed and the file finally reached is judged (a link in the project cannot
  launder someone else's file);
- it must be a regular file owned by us or by root: root-owned files (a config built into
  /nix/store, a file in /etc) are as trusted as the system itself; any other owner is refused;
- writable by everyone (o+w): refused; so is a file in a folder everyone may write to without
  the sticky bit (anyone could replace the file);
- writable by its group (g+w): accepted with a warning, because user-private-group systems
  (Debian, Ubuntu: umask 002, a group of one) make that the normal state of a user's files.

`inspect` judges a path by `stat` (used while validating the config). `read_bytes` opens the
file first and judges what it OPENED (`fstat`), so a file swapped between a check and the read
is still judged, and nothing untrusted is ever read; `O_NONBLOCK` keeps a FIFO from hanging the
caller. Messages name the path, the problem and the fix.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The largest file we read (config, prompts, wake files, role files, kickoff templates): far
# above any real prompt, far below a dump named by mistake, which would be read whole by `up`
# and at every restart (and then refused by the 128 KiB argument limit anyway).
MAX_BYTES = 1 << 20
CONFIG_STAKES = "what your agents run"
PROMPT_STAKES = "what your agents are told"


class Untrusted(Exception):
    """The file must not be used; the text says which file, why, and how to fix it."""


@dataclass(frozen=True)
class Verdict:
    """`problem`: refuse the file. `warning`: use it, but say so."""

    problem: str | None = None
    warning: str | None = None


def _user(uid: int) -> str:
    with contextlib.suppress(KeyError):
        return f"user '{pwd.getpwuid(uid).pw_name}' (uid {uid})"
    return f"uid {uid}"


def _group(gid: int) -> str:
    with contextlib.suppress(KeyError):
        return f"group '{grp.getgrgid(gid).gr_name}'"
    return f"gid {gid}"


def _names(path: Path, shown: str) -> tuple[str, Path]:
    """How the file is named in messages, and the real file a chmod must be given."""
    real = Path(os.path.realpath(path))
    if path.is_symlink():
        return f"{shown} (a symlink to {real})", real
    return shown, real


def judge(info: os.stat_result, path: Path, shown: str, stakes: str) -> Verdict:
    """Judge a file from its stat (of the file reached through any symlinks)."""
    name, real = _names(path, shown)
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        return Verdict(problem=f"{name} is not a regular file")
    if info.st_size > MAX_BYTES:
        return Verdict(problem=_too_big(name, info.st_size))
    if info.st_uid not in (os.geteuid(), 0):
        return Verdict(problem=f"{name} is owned by {_user(info.st_uid)}, not by you or root: "
                       f"whoever uses that account could change {stakes}; refusing to read it "
                       f"(copy it into your project if you trust it)")
    if mode & stat.S_IWOTH:
        return Verdict(problem=f"{name} is world-writable (mode {mode:04o}): anyone can change "
                       f"{stakes}; chmod o-w {real}")
    folder = real.parent
    try:
        folder_mode = os.stat(folder).st_mode
    except OSError:
        folder_mode = 0
    if folder_mode & stat.S_IWOTH and not folder_mode & stat.S_ISVTX:
        return Verdict(problem=f"{name} is in {folder}, which anyone can write to (mode "
                       f"{stat.S_IMODE(folder_mode):04o}): anyone can replace it and change "
                       f"{stakes}; chmod o-w {folder}")
    if mode & stat.S_IWGRP:
        return Verdict(warning=f"{name} is group-writable (mode {mode:04o}, "
                       f"{_group(info.st_gid)}): the group's members can change {stakes}; "
                       f"chmod g-w {real} unless that group is just you")
    return Verdict()


def log_dir_problem(log_dir: Path) -> str | None:
    """Why `log_dir` (resolved) must not be used, or None: it or the folder it is in can be
    written by anyone without the sticky bit, so anyone could swap our logs and state (the
    lock, the watchdog's memory) for their own files or symlinks. A sticky shared folder
    such as /tmp is fine: there only the owner of a name can replace it."""
    for folder in (log_dir, log_dir.parent):
        try:
            mode = os.stat(folder).st_mode
        except OSError:
            continue  # not there yet: created by us, 0700
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            return (f"log_dir {log_dir} {'is' if folder == log_dir else 'is in'} a folder "
                    f"anyone can write to without the sticky bit ({folder}, mode "
                    f"{stat.S_IMODE(mode):04o}): anyone could replace our logs and state with "
                    f"their own files; choose a log_dir in a folder of your own, or fix the "
                    f"folder with: chmod o-w {folder} (or chmod +t {folder})")
    state = log_dir / "state"
    with contextlib.suppress(OSError):
        info = os.stat(state)
        if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return (f"{state} (where the watchdog keeps its lock and memory) is owned by "
                    f"{_user(info.st_uid)} with mode {stat.S_IMODE(info.st_mode):04o}: it must "
                    f"be a folder of yours no one else can write to; remove it (it is made "
                    f"again, private) or choose another log_dir")
    return None


def _too_big(name: str, size: int, least: str = "") -> str:
    return (f"{name} is {least}{size:,} bytes, over the {MAX_BYTES:,}-byte cap on files we "
            f"read (config, prompts, wake and role files, templates): is it the right file?")


def inspect(path: Path, shown: str, stakes: str = PROMPT_STAKES) -> Verdict:
    """Judge the file at `path` (symlinks followed). A missing file is not judged here."""
    try:
        info = os.stat(path)
    except OSError:
        return Verdict()
    return judge(info, path, shown, stakes)


def read_bytes(path: Path, shown: str, stakes: str = PROMPT_STAKES) -> tuple[bytes, str | None]:
    """The file's content and a warning (or None), when it may be used; raises Untrusted
    when not (nothing of it is read then) and OSError when it cannot be opened."""
    return _read(path, shown, lambda info: judge(info, path, shown, stakes))


def read_capped(path: Path, shown: str | None = None) -> bytes:
    """A file we only look into and never act on (the rejected config, for the `log_dir`
    line that finds its last good copy): no trust check, but still a regular file, capped
    and opened without blocking. Raises Untrusted (not a regular file, too big) or OSError."""
    name = shown or str(path)
    return _read(path, name, lambda info: Verdict(
        problem=f"{name} is not a regular file" if not stat.S_ISREG(info.st_mode) else
        _too_big(name, info.st_size) if info.st_size > MAX_BYTES else None))[0]


def _read(path: Path, shown: str,
          judged: Callable[[os.stat_result], Verdict]) -> tuple[bytes, str | None]:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        verdict = judged(os.fstat(fd))
        if verdict.problem is not None:
            raise Untrusted(verdict.problem)
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BYTES:  # grew after the fstat: still never read whole
                raise Untrusted(_too_big(_names(path, shown)[0], size, "at least "))
    finally:
        os.close(fd)
    return b"".join(chunks), verdict.warning


def read_text(path: Path, shown: str | None = None, stakes: str = PROMPT_STAKES) -> str:
    """`read_bytes` decoded as UTF-8 (a warning was already given when the config loaded)."""
    data, _ = read_bytes(path, shown or str(path), stakes)
    return data.decode("utf-8")
