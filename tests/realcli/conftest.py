"""The realcli tier: the real npm builds of the agent CLIs against a loopback fake model.

Off by default (`python -m pytest -q` skips it): run it with `AO_REALCLI=1` (see README.md).
Tests marked `offline` (the fake server's own) need no CLI and always run.
When it cannot run here (node/npm/tmux or a CLI missing) every test skips for the same reason
and the run prints one line saying why.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # clis.py and fakemodel.py are also run as scripts
    sys.path.append(str(HERE))

import clis  # noqa: E402
from fakemodel import FakeModel  # noqa: E402

ENABLED = os.environ.get("AO_REALCLI") == "1"
OFF = "realcli tier off: set AO_REALCLI=1 to run it (tests/realcli/README.md)"
_skips: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "realcli: runs a real agent CLI (AO_REALCLI=1)")
    config.addinivalue_line("markers", "offline: a realcli rig test needing no CLI (always runs)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None if ENABLED else OFF
    if ENABLED and (why := clis.node_missing()):
        reason = f"realcli tier skipped: {why}"
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.realcli)
        if reason and not item.get_closest_marker("offline"):
            item.add_marker(pytest.mark.skip(reason=reason))
            _skips.add(reason)


_missing: dict[str, None] = {}  # "cli version" not installed (ordered set)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in sorted(_skips):
        terminalreporter.write_line(reason)
    if _missing:
        terminalreporter.write_line(
            f"realcli tier: not installed under {clis.realclis_dir()}: {', '.join(_missing)}"
            " (bash tests/realcli/install.sh); those tests skipped"
        )


def need(cli: str, set_name: str = "pinned") -> None:
    """Skip unless `cli` at `set_name`'s version is installed."""
    if not clis.find_bin(cli, set_name):
        what = f"{cli} {clis.versions()['sets'][set_name][cli]}"
        _missing[what] = None
        pytest.skip(f"realcli: {what} not installed (bash tests/realcli/install.sh {set_name})")


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeModel]:
    """A fake model server for this test (loopback, free port; request log in tmp_path)."""
    server = FakeModel(log_path=str(tmp_path / "fakemodel.log.jsonl")).start()
    yield server
    server.stop()


@pytest.fixture
def launch(fake: FakeModel, request: pytest.FixtureRequest) -> Iterator[Callable[..., clis.Run]]:
    """`launch(cli, set_name="pinned", prompt=None, args=None, env=None, **opts)` starts the CLI
    in its own private tmux server (TMUX_TMPDIR in its own folder, socket "rc") against `fake`;
    everything it started is stopped after the test. On failure the last screen is printed."""
    runs: list[clis.Run] = []

    def start(
        cli: str,
        set_name: str = "pinned",
        prompt: str | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        **opts: object,
    ) -> clis.Run:
        need(cli, set_name)
        run = clis.Run(cli, fake.base_url, set_name, **opts)
        runs.append(run)
        return run.start(prompt, args, env)

    yield start
    for run in runs:
        screen = run.capture()
        left = run.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print(f"--- last screen of {run.cli} {run.version}:\n{screen}")
        assert not left, f"{run.cli}: processes left after stop: {left}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep
