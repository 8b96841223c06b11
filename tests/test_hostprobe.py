"""doors/hostprobe.py against a real sshd on loopback: one call tells tmux's version, our
package, missing programs and the clock offset; a host that is down is a report, not a raise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sshhosts import SshHost, connection, control_folder, ssh_host, sshd_missing

import agent_orchestrator
from agent_orchestrator.doors.hostprobe import probe

pytestmark = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")
host = ssh_host


def test_a_reachable_host_reports_everything(host: SshHost, tmp_path: Path) -> None:
    conn = connection(host, control_folder())
    report = probe(conn, sys.executable, ["sh", "no-such-cli-xyz", "it's odd"])
    conn.close()
    assert report.error is None
    assert report.tmux is not None and report.tmux.startswith("tmux ")
    assert report.package == agent_orchestrator.__version__
    assert report.missing == ("no-such-cli-xyz", "it's odd")
    assert report.clock_offset is not None and report.clock_error is not None
    # The same machine: the estimate brackets zero.
    assert abs(report.clock_offset) <= report.clock_error + 0.05


def test_a_python_without_our_package_says_so(host: SshHost, tmp_path: Path) -> None:
    conn = connection(host, control_folder())
    report = probe(conn, "/nonexistent/python3", [])
    conn.close()
    assert report.error is None and report.package is None


def test_a_host_that_is_down_is_a_report(host: SshHost, tmp_path: Path) -> None:
    host.stop()
    report = probe(connection(host, control_folder(), timeout=5), sys.executable, ["sh"])
    assert report.error is not None and "host a" in report.error
    assert report.tmux is None and report.missing == ()
