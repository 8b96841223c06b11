"""`agents doctor` checks every host of the fleet (cli/doctorhosts.py): against a real sshd
on loopback, and each verdict from a probe's report."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_config
from sshhosts import SshHost, ssh_host, sshd_missing

from agent_orchestrator.cli import doctor
from agent_orchestrator.cli.doctorhosts import judge
from agent_orchestrator.doors.hostprobe import HostReport

host = ssh_host
needs_sshd = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")


def remote_fleet(tmp_path: Path, host: SshHost, bin_text: str) -> Path:
    return write_config(tmp_path / "proj", host.table() + f"""

        [[agent]]
        name = "far"
        host = "hosta"
        backend = "far"
        dir = "~"
        prompt = "hi"

        [backend.far]
        bin = "{bin_text}"
    """, "dh", prefix="dh-")


@needs_sshd
def test_a_host_that_has_everything(host: SshHost, tmp_path: Path) -> None:
    checks = {c.name: c for c in doctor.run(remote_fleet(tmp_path, host, "sh -c true"))}
    assert checks["host hosta"].status == "ok"
    assert checks["host hosta tmux"].detail.startswith("tmux ")
    assert checks["host hosta agent_orchestrator"].status == "ok"
    assert checks["host hosta programs"].status == "ok"
    assert checks["host hosta clock"].status == "ok"
    assert "far" not in {c.name for c in checks.values() if c.status == "fail"}


@needs_sshd
def test_a_missing_program_and_a_host_that_is_gone(host: SshHost, tmp_path: Path) -> None:
    path = remote_fleet(tmp_path, host, "no-such-cli-xyz --go")
    checks = {c.name: c for c in doctor.run(path)}
    assert checks["host hosta programs"].status == "fail"
    assert "no-such-cli-xyz" in checks["host hosta programs"].detail
    host.stop()
    checks = {c.name: c for c in doctor.run(path)}
    assert checks["host hosta"].status == "fail"
    assert "refused" in checks["host hosta"].detail.lower()


def test_verdicts_from_a_report() -> None:
    old = judge("h", "dev@h", "python3", HostReport(
        "h", tmux="tmux 2.9", package=None, missing=("claude",), clock_offset=42.0,
        clock_error=0.01))
    by = {c.name: c for c in old}
    assert by["host h tmux"].status == "fail" and "too old" in by["host h tmux"].detail
    assert by["host h agent_orchestrator"].status == "fail"
    assert "python3" in by["host h agent_orchestrator"].detail
    assert by["host h programs"].status == "fail"
    assert by["host h clock"].status == "warn"
    gone = judge("h", "dev@h", "python3", HostReport("h", error="host h: refused"))
    assert [(c.name, c.status) for c in gone] == [("host h", "fail")]
