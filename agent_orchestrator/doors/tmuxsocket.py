"""Where tmux keeps its named sockets, and whether tmux would accept that folder.

tmux refuses a socket folder that others could tamper with; the tmux door asks here before
it spawns anything (`Tmux.check_socket_dir`), so that a refused folder is reported once,
naming the folder and what it must be, and never retried in a loop. Costs one lstat.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def socket_dir() -> Path:
    """The folder tmux keeps `-L` sockets in: `$TMUX_TMPDIR/tmux-UID`, or /tmp/tmux-UID when
    TMUX_TMPDIR is unset or missing (what tmux 3.x does)."""
    root = os.environ.get("TMUX_TMPDIR") or ""
    if not root or not os.path.isdir(root):
        root = "/tmp"
    return Path(os.path.realpath(root)) / f"tmux-{os.getuid()}"


def server_path(socket_name: str | None, socket_path: str | None) -> Path:
    """The socket of the server `-S socket_path` / `-L socket_name` / the default one."""
    if socket_path:
        return Path(os.path.realpath(socket_path))
    return socket_dir() / (socket_name or "default")


def is_client_of(tmux_env: str | None, socket_name: str | None,
                 socket_path: str | None) -> bool:
    """Whether `$TMUX` (`SOCKET,PID,SESSION`) says we run inside that server's tmux."""
    if not tmux_env:
        return False
    inside = Path(os.path.realpath(tmux_env.split(",")[0]))
    return inside == server_path(socket_name, socket_path)


def refusal(socket_name: str | None, socket_path: str | None) -> str | None:
    """What to tell the user when tmux would refuse the socket folder of the server named
    `socket_name` (`-L`) or at `socket_path` (`-S`); None when it would not."""
    if socket_path or (socket_name is None and os.environ.get("TMUX")):
        return None  # tmux checks no folder for an explicit path (nor for $TMUX's socket)
    path = socket_dir()
    why = unsafe_socket_dir(path)
    if why is None:
        return None
    return (f"unsafe tmux socket directory {path}: {why}. It must be a directory owned "
            f"by you (uid {os.getuid()}) with mode 0700; tmux refuses to use it. Remove "
            f"it (tmux creates it again, safely) or fix it with: chmod 0700 {path}")


def unsafe_socket_dir(path: Path) -> str | None:
    """Why tmux would refuse `path` as its socket folder, or None when it is fine (or absent:
    tmux then creates it 0700). tmux's own rule: a directory, not a symlink, owned by us,
    with no permission for others."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"it cannot be inspected ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return f"it is a symlink (to {os.readlink(path)})"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != os.getuid():
        return f"it is owned by uid {info.st_uid}"
    if info.st_mode & 0o007:
        return f"its mode is {stat.S_IMODE(info.st_mode):04o}"
    return None
