"""Reliability case T42 (files we read): huge files, FIFOs and devices, NUL characters.

The loop's phase status file, which the watchdog reads at every heavy tick, is read the
same way: a FIFO there does not block the watchdog, a huge one is not read whole.

Every file we read (config, prompts, wake and role files, kickoff templates) is capped at
`filetrust.MAX_BYTES` (1 MiB) and refused with its name and size; a FIFO or device named as
a prompt file is "not a regular file"; a NUL in any config value (model, flags, bin...) is a
config error at its line, never a failed exec and a crash loop.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from conftest import write_project as write

from agent_orchestrator import config as config_mod
from agent_orchestrator.config import ConfigError, filetrust
from agent_orchestrator.runtime import launch

HEAD = '[defaults]\nsession_prefix = "t-"\nlog_dir = "logs"\nbackend = "demo"\n'


def agent(extra: str = "", prompt: str = 'prompt_file = "p.md"') -> str:
    return HEAD + f'\n[[agent]]\nname = "a"\n{prompt}\n{extra}'


def rejected(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        config_mod.load(path)
    return str(info.value)


def test_t42_huge_prompt_file_refused_with_its_size(tmp_path: Path) -> None:
    """FAULT: `prompt_file` names a 2 MiB dump (a 400 MB one in the wild). EXPECTED: the
    config is rejected at its line, naming the file, its size and the cap; nothing of it is
    read."""
    path = write(tmp_path, agent())
    (tmp_path / "p.md").write_bytes(b"x" * (2 << 20))
    assert rejected(path) == (f"{path}:8: agent.a.prompt_file: p.md is 2,097,152 bytes, over "
                              f"the 1,048,576-byte cap on files we read (config, prompts, "
                              f"wake and role files, templates): is it the right file?")


def test_t42_prompt_grown_past_the_cap_after_load_is_not_read_whole(tmp_path: Path) -> None:
    """FAULT: the prompt file passed `check`, then became a huge file before a (re)start.
    EXPECTED: the launch refuses it (Untrusted, which the restart path reports) with its
    size; at most the cap plus one chunk is read."""
    path = write(tmp_path, agent())
    (tmp_path / "p.md").write_text("go\n")
    config = config_mod.load(path)
    (tmp_path / "p.md").write_bytes(b"x" * (filetrust.MAX_BYTES + 1))
    with pytest.raises(filetrust.Untrusted, match=r"is 1,048,577 bytes, over the 1,048,576"):
        launch.kickoff_text(config, config.agents[0])


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_t42_fifo_or_device_prompt_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    """FAULT: a FIFO, a device (/dev/zero: endless) or a folder named as `prompt_file`.
    EXPECTED: rejected at its line as "not a regular file" (was "file not found"), without
    blocking on the FIFO."""
    if kind == "fifo":
        os.mkfifo(tmp_path / "p.md")
        prompt = 'prompt_file = "p.md"'
    elif kind == "device":
        prompt = 'prompt_file = "/dev/zero"'
    else:
        (tmp_path / "p.md").mkdir()
        prompt = 'prompt_file = "p.md"'
    path = write(tmp_path, agent(prompt=prompt))
    shown = prompt.split('"')[1]
    assert rejected(path) == f"{path}:8: agent.a.prompt_file: {shown} is not a regular file"


@pytest.mark.parametrize(("key", "line"), [
    ("model", 'model = "opus\\u0000--dangerously"'),
    ("prompt", 'prompt = "go\\u0000"'),
])
def test_t42_nul_in_an_agent_value_is_a_config_error(tmp_path: Path, key: str,
                                                     line: str) -> None:
    """FAULT: a NUL character in `model` (or another value that ends up in argv). EXPECTED:
    `check` rejects it at its line; before, it passed and every exec failed (crash loop)."""
    path = write(tmp_path, agent(prompt=line))
    assert rejected(path) == (f"{path}:8: agent.a.{key}: contains a NUL character (\\0 or "
                              f"\\u0000), which no command line, environment variable or "
                              f"path can carry")


def test_t42_nul_in_backend_flags_and_bin_is_a_config_error(tmp_path: Path) -> None:
    """FAULT: NUL in a backend's `flags` and `bin` words. EXPECTED: both reported, each at
    its line."""
    text = HEAD + '\n[backend.x]\nbin = "to\\u0000ol"\nflags = "--a \\u0000"\n'
    path = write(tmp_path, text)
    message = rejected(path)
    assert f"{path}:7: backend.x.bin: contains a NUL character" in message
    assert f"{path}:8: backend.x.flags: contains a NUL character" in message


# --------------------------------------------------- T42: the loop's phase status file

LOOP_NO_HANDOFF = """
    [[agent]]
    name = "b"
    kind = "loop"
    role = "builder"
    backend = "demo"

    [loop]
    roles_dir = "."

    [[loop.phases]]
    id = "one"
    status = "STATUS.md"
"""


class Reports:
    """The watchdog's reporting, kept (report_once as the watchdog does it: once a key)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.last: dict[str, str] = {}

    def record(self, events: object) -> None:
        raise AssertionError("no event expected from a handoff-less DONE check")

    def report_once(self, key: str, kind: str, reason: str) -> bool:
        if self.last.get(key) == reason:
            return False
        self.last[key] = reason
        self.events.append((kind, reason))
        return True

    def resolved(self, key: str) -> str | None:
        return self.last.pop(key, None)


def heavy_pass(config: config_mod.Config, report: Reports) -> object:
    """One heavy pass's loop observation (what the watchdog calls every heavy tick), run
    in a thread: it must return within 5 s (a blocked open of a FIFO never would)."""
    from agent_orchestrator.core.memory import FleetMemory
    from agent_orchestrator.runtime.observe import Observer
    from agent_orchestrator.runtime.workers import Workers

    workers = Workers(lambda: None)
    out: list[object] = []
    observer = Observer(workers)
    thread = threading.Thread(target=lambda: out.append(observer._loop(
        config, FleetMemory(), False, True, report, {})), daemon=True)
    try:
        thread.start()
        thread.join(5)
        assert not thread.is_alive(), "the watchdog's pass blocked on the status file"
    finally:
        workers.close()
    assert out, "the pass raised"
    return out[0]


@pytest.mark.parametrize("kind", ["fifo", "huge", "folder"])
def test_t42_status_file_fifo_or_huge_neither_blocks_nor_crashes_the_pass(
        tmp_path: Path, kind: str) -> None:
    """FAULT: the loop's phase status file (read at every heavy tick when there is no
    handoff repo) is a FIFO no one writes to, a 2 MiB file ending in a DONE claim, or a
    folder.
    EXPECTED: the pass returns within its deadline (was: blocked for ever on the FIFO;
    the 2 MiB file read whole every tick), the phase is not taken for done, and the problem
    is reported once as `status-file-unreadable` naming the file; a good file afterwards
    clears it and is read."""
    (tmp_path / "builder.md").write_text("build\n")
    config = config_mod.load(write(tmp_path, HEAD + LOOP_NO_HANDOFF))
    status = tmp_path / "STATUS.md"
    if kind == "fifo":
        os.mkfifo(status)
    elif kind == "huge":
        status.write_bytes(b"x" * (2 << 20) + b"\n## DONE\nall gates pass\n")
    else:
        status.mkdir()
    report = Reports()
    for _ in range(2):  # every heavy tick: reported once
        seen = heavy_pass(config, report)
        assert seen.done_checked and seen.done_sha is None
    assert [k for k, _ in report.events] == ["status-file-unreadable"]
    reason = report.events[0][1]
    assert str(status) in reason
    from agent_orchestrator.cli.verbs_loop import status_states  # `agents phase` too
    assert status_states(config) == (["unreadable"], "the project's files")
    assert ("2,097,17" in reason and "cap" in reason) if kind == "huge" else \
        "not a regular file" in reason
    if kind == "folder":
        status.rmdir()
    else:
        status.unlink()
    status.write_text("## DONE\nall gates pass\n")
    assert heavy_pass(config, report).done_sha == "working-tree"
    assert report.last == {}


def test_t42_a_pushed_status_file_over_the_cap_is_never_read_whole(tmp_path: Path) -> None:
    """FAULT: with a handoff repo, the status file pushed to origin/main is 2 MiB.
    EXPECTED: the DONE check (doors/gitrelay.py, in a worker) refuses it with its size
    (a `git-error` the watchdog reports once) instead of reading the blob whole."""
    import subprocess

    from conftest import git

    from agent_orchestrator.doors import gitrelay

    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "STATUS.md").write_bytes(b"x" * (2 << 20) + b"\n## DONE\nyes\n")
    git(repo, "add", "STATUS.md")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "-m", "big")
    g = gitrelay.Git(repo)
    with pytest.raises(gitrelay.GitError, match=r"STATUS.md at refs/heads/main is "
                                                r"2,097,16\d bytes, over the 1,048,576"):
        g.show("refs/heads/main", "STATUS.md")


@pytest.mark.parametrize("verb", [("status",), ("up",)])
def test_t42_a_fifo_as_the_config_file_is_refused_promptly(tmp_path: Path,
                                                           verb: tuple[str, ...]) -> None:
    """FAULT: the config path is a FIFO no one writes to (after `load` refuses it, the CLI
    looks into it for its `log_dir` line, to name the last good copy).
    EXPECTED: `agents status` (and `up`) exit 1 within seconds with the loader's message
    ("not a regular file"); was: blocked for ever opening the FIFO."""
    import subprocess
    import sys

    path = tmp_path / "agents.toml"
    os.mkfifo(path)
    done = subprocess.run([sys.executable, "-m", "agent_orchestrator", *verb, "--config",
                           str(path)], capture_output=True, text=True, timeout=20,
                          check=False, cwd=tmp_path)
    assert done.returncode == 1
    assert f"{path} is not a regular file" in done.stderr or \
        "agents.toml is not a regular file" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
