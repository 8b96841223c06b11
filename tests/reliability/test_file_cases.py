"""Reliability case T42 (files we read): huge files, FIFOs and devices, NUL characters.

Every file we read (config, prompts, wake and role files, kickoff templates) is capped at
`filetrust.MAX_BYTES` (1 MiB) and refused with its name and size; a FIFO or device named as
a prompt file is "not a regular file"; a NUL in any config value (model, flags, bin...) is a
config error at its line, never a failed exec and a crash loop.
"""

from __future__ import annotations

import os
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
