"""The demo agent's side channels for tests: the `--record` file it appends events to and
the `--control` file it polls for commands."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

CONTROL_INTERVAL = 0.1  # seconds between control-file polls


class Recorder:
    """Appends JSON lines to the ``--record`` file (mode 0600), one ``os.write`` each."""

    def __init__(self, path: str | None) -> None:
        self._fd: int | None = None
        if path:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._fd = os.open(path, flags, 0o600)

    def write(self, **event: Any) -> None:
        """Append one event; strings are stored exactly (UTF-8, no ASCII escaping)."""
        if self._fd is None:
            return
        text = json.dumps(event, ensure_ascii=False) + "\n"
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # undecodable argv bytes: write them back as they came
            data = text.encode("utf-8", "surrogateescape")
        os.write(self._fd, data)

    def close(self) -> None:
        """Close the file (later writes are dropped)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ControlFile:
    """The ``--control`` file: polled, read, deleted, split into command lines."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._next_poll = 0.0

    def poll(self, now: float) -> list[str]:
        """Commands waiting in the file (at most one read per CONTROL_INTERVAL)."""
        if self.path is None or now < self._next_poll:
            return []
        self._next_poll = now + CONTROL_INTERVAL
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return []
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        text = data.decode("utf-8", "replace")
        return [line.strip() for line in text.splitlines() if line.strip()]

    def timeout(self, now: float) -> float | None:
        """Seconds until the next poll is due, None without a control file."""
        if self.path is None:
            return None
        return max(self._next_poll - now, 0.0)


def commit_task(cwd: str, prompt: str, started: float, ended: float) -> None:
    """`--task`: write `<folder name>.txt` (the prompt and the work's wall-clock times) in
    `cwd` and commit it there: what a one-shot task's agent leaves on its branch."""
    import subprocess
    import time

    name = os.path.basename(os.path.abspath(cwd)) or "task"
    path = os.path.join(cwd, f"{name}.txt")
    now = time.time()
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{prompt}\nstarted={now - (ended - started):.3f} ended={now:.3f}\n")
    for args in (["add", "--", path], ["commit", "-q", "-m", f"task {name}: "
                                       f"{prompt.splitlines()[0][:60] if prompt else ''}"]):
        subprocess.run(["git", *args], cwd=cwd, check=False, capture_output=True,
                       timeout=60)
