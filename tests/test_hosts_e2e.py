"""A fleet across machines end to end: `agents up` with one agent here and one on each of
two loopback "hosts" (each a real sshd with its own HOME and tmux server), the watchdog
healing all three, a host that goes off the network (its agent is not restarted,
`host-unreachable`; the agents here and on the other host still healed) and comes back
(`host-reachable`, its agent running), `send` and `status` and `logs` reaching it, its tmux
server killed (started again there), and `agents down` ending every session and process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PANE_LIST, live_pane_pid, tmux_cmd, wait_until
from harness import demo_agent
from sshhosts import SshHost, ssh_host, ssh_host_b, sshd_missing

from agent_orchestrator.cli import mcptools
from agent_orchestrator.config import model
from agent_orchestrator.doors import proctree

pytestmark = [pytest.mark.tmux,
              pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")]
host, other = ssh_host, ssh_host_b
CONTROL = "e-" + model.CONTROL_NAME


def remote_agent(host: SshHost, folder: Path, name: str = "b") -> str:
    return host.table() + f"""

        [[agent]]
        name = "{name}"
        host = "{host.alias}"
        backend = "demo{name}"
        watch = "heal"
        dir = "{host.home}"
        prompt = "far away: it's \\"quoted\\" $HOME"

        [backend.demo{name}]
        bin = "{{python}} -m agent_orchestrator.fakeagent"
        flags = "--busy 0.3 --control {folder}/ctl-{name} --record {folder}/rec-{name}"
        process_name = "python"
        active_re = "esc to interrupt"
        stall_idle = 2
    """


def states(fleet) -> dict[str, str]:
    shown = fleet.agents("status", "--json")
    assert shown.returncode == 0, shown.stderr
    return {row["agent"]: row["state"] for row in json.loads(shown.stdout)["agents"]}


def attached(host: SshHost, socket: str) -> dict[str, bool]:
    """session → whether a client is attached to it, on the host's server of `socket`."""
    shown = host.tmux(socket, "list-sessions", "-F", "#{session_name} #{session_attached}")
    return {name: count != "0" for name, count in
            (line.rsplit(" ", 1) for line in shown.stdout.splitlines())}


def remote_pid(host: SshHost, socket: str, session: str) -> int | None:
    return live_pane_pid(host.tmux(socket, "list-panes", "-a", "-F", PANE_LIST).stdout,
                         session)


def test_up_heal_unreachable_reachable_down_across_three_machines(
        make_fleet, tmp_path: Path, host: SshHost, other: SshHost) -> None:
    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + demo_agent("a", tmp_path)
                       + remote_agent(host, tmp_path) + remote_agent(other, tmp_path, "c"))
    host.sockets.add(fleet.socket)  # the hosts' own servers of that name end with the test
    other.sockets.add(fleet.socket)
    up = fleet.agents("up")
    assert up.returncode == 0, up.stdout + up.stderr
    first = wait_until(lambda: remote_pid(host, fleet.socket, "e-b"), what="b on the host")
    first_c = wait_until(lambda: remote_pid(other, fleet.socket, "e-c"), what="c on hostb")
    assert remote_pid(host, fleet.socket, "e-c") is None  # each on its own host
    assert fleet.pane_pid("e-b") is None  # not on this machine's server
    wait_until(lambda: any("far away: it's \"quoted\" $HOME" in r.get("argv", ())
                           for r in fleet.records("b")), what="b's prompt, byte-exact")
    fleet.wait_event("a", "adopt")
    fleet.wait_event("b", "adopt")
    fleet.wait_event("c", "adopt")
    # The watchdog hears each host through a control client in a session of its own there,
    # never attached to an agent's (which would show as attached, and end with it).
    for machine in (host, other):
        wait_until(lambda m=machine: attached(m, fleet.socket).get(CONTROL), what="control")
    assert attached(host, fleet.socket)["e-b"] is False
    assert attached(other, fleet.socket)["e-c"] is False
    assert {states(fleet)[n] in ("running", "active", "idle") for n in "abc"} == {True}
    logs = fleet.agents("logs", "b", "--no-follow")  # read on the host
    assert logs.returncode == 0 and logs.stdout.strip(), logs.stderr
    tail = mcptools.logs_tail(fleet.path, "b", 5)  # the MCP tool reads it there too
    assert tail["name"] == "b" and any(line.strip() for line in tail["lines"]), tail
    explained = fleet.agents("explain", "b")  # its screen, captured there
    assert explained.returncode == 0, explained.stdout + explained.stderr
    transcript = fleet.agents("transcript", "b")  # looked for there: it wrote none
    assert transcript.returncode == 1
    assert "no transcript found for b on host hosta" in transcript.stderr, transcript.stderr

    # A remote session killed there is healed there.
    host.tmux(fleet.socket, "kill-session", "-t", "=e-b")
    assert fleet.wait_event("b", "restart", timeout=10)["reason"] == "session gone"
    second = wait_until(lambda: remote_pid(host, fleet.socket, "e-b"), what="b healed")
    assert second != first

    # A host goes off the network: its agent is not restarted; this machine's and the other
    # host's still are.
    restarts_b = len(fleet.events("b", "restart"))
    host.stop()
    try:
        fleet.wait_event(None, "host-unreachable", timeout=20)
    except BaseException:
        print(*fleet.events(), sep="\n")  # shown with the failure: what the watchdog saw
        raise
    restarts_a = len(fleet.events("a", "restart"))
    tmux_cmd(fleet.socket, "kill-session", "-t", "=e-a")
    fleet.wait_event("a", "restart", timeout=10, after=restarts_a)
    wait_until(lambda: fleet.pane_pid("e-a"), what="a healed while the host is away")
    restarts_c = len(fleet.events("c", "restart"))
    other.tmux(fleet.socket, "kill-session", "-t", "=e-c")
    fleet.wait_event("c", "restart", timeout=10, after=restarts_c)
    assert wait_until(lambda: remote_pid(other, fleet.socket, "e-c"),
                      what="c healed on hostb while hosta is away") != first_c
    assert len(fleet.events("b", "restart")) == restarts_b
    assert not fleet.events("b", "crash-loop")
    assert states(fleet)["b"] == "unreachable"

    # Back on the network: reachable again, its agent (still running there) kept.
    host.start()
    fleet.wait_event(None, "host-reachable", timeout=40)
    assert remote_pid(host, fleet.socket, "e-b") == second
    assert len(fleet.events("b", "restart")) == restarts_b

    # Typed into over the connection, byte-exact.
    sent = fleet.agents("send", "b", "über 'quoted' $x")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    wait_until(lambda: "über 'quoted' $x" in [r.get("text") for r in fleet.records("b")
                                              if r["event"] == "input"], what="the text in b")

    # The host's tmux server is gone (a reboot): its agent is started there again.
    host.tmux(fleet.socket, "kill-server")
    fleet.wait_event("b", "restart", timeout=15, after=restarts_b)
    wait_until(lambda: remote_pid(host, fleet.socket, "e-b"), what="b back after the reboot")

    # The operator's restart reaches it there.
    before = wait_until(lambda: remote_pid(host, fleet.socket, "e-b"), what="b")
    again = fleet.agents("restart", "b")
    assert again.returncode == 0 and "restarted" in again.stdout, again.stdout + again.stderr
    assert wait_until(lambda: remote_pid(host, fleet.socket, "e-b"), what="b") != before

    for name in "abc":  # what the check after `down` looks for is there now
        assert proctree.tagged(proctree.launch_tag(fleet.socket, f"e-{name}")), name
    down = fleet.agents("down")
    assert down.returncode == 0, down.stdout + down.stderr
    wait_until(lambda: remote_pid(host, fleet.socket, "e-b") is None, what="b stopped there")
    assert "e-b" not in host.tmux(fleet.socket, "ls").stdout
    wait_until(lambda: fleet.pane_pid("e-a") is None, what="a stopped here")
    wait_until(lambda: remote_pid(other, fleet.socket, "e-c") is None, what="c stopped there")
    for machine in (host, other):  # the stopped watchdog took its control sessions along
        wait_until(lambda m=machine: CONTROL not in attached(m, fleet.socket),
                   what="no control session left")
    # No process of any agent is left on any host (they are all this machine's processes).
    for name in "abc":
        wait_until(lambda n=name: not proctree.tagged(proctree.launch_tag(fleet.socket,
                                                                          f"e-{n}")),
                   what=f"no process of {name} left")


def test_down_ends_the_control_session_a_killed_watchdog_left_on_a_host(
        make_fleet, tmp_path: Path, host: SshHost) -> None:
    """A watchdog killed with SIGKILL cannot end its control session on a host; `down`
    (which stopped no watchdog here) ends it and says so."""
    fleet = make_fleet(demo_agent("a", tmp_path) + remote_agent(host, tmp_path))
    host.sockets.add(fleet.socket)
    host.tmux(fleet.socket, "new-session", "-d", "-s", CONTROL, "cat")
    down = fleet.agents("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert CONTROL in down.stdout and "on host hosta" in down.stdout, down.stdout
    assert CONTROL not in host.tmux(fleet.socket, "ls").stdout


def test_a_verb_never_cuts_the_watchdogs_connection(make_fleet, tmp_path: Path,
                                                    host: SshHost) -> None:
    """Verbs have ssh masters of their own: `ssh -O exit` (a verb closing its connection)
    ends every channel on a master, and one shared with the watchdog cut its control client
    there at every `agents status` (re-attached each time; a false host-unreachable now and
    then). Here its control client outlives many verbs, and no verb leaves a folder."""
    from agent_orchestrator import config as config_mod
    from agent_orchestrator.doors import rundir

    fleet = make_fleet("[watchdog]\nsignal_interval = 30\n" + remote_agent(host, tmp_path))
    host.sockets.add(fleet.socket)
    assert fleet.agents("up").returncode == 0
    wait_until(lambda: attached(host, fleet.socket).get(CONTROL), what="the control client")
    clients = lambda: host.tmux(fleet.socket, "list-clients", "-F",  # noqa: E731
                                "#{client_pid} #{client_session}").stdout.split("\n")
    before = clients()
    for _ in range(4):
        shown = fleet.agents("status")
        assert shown.returncode == 0, shown.stderr
    assert fleet.agents("logs", "b", "--no-follow", "-n", "3").returncode == 0
    assert fleet.agents("explain", "b").returncode == 0
    one = fleet.agents("status", "b", "--json")
    assert one.returncode == 0, one.stderr
    detail = json.loads(one.stdout)
    assert detail["pid"] == remote_pid(host, fleet.socket, "e-b")  # the host's pid ...
    assert (detail["cpu_pct"], detail["rss_bytes"], detail["processes"]) == (None,) * 3
    assert "far away" in (detail["screen"] or "")  # ... and screen; no figures from here
    assert clients() == before  # the same client, never re-attached
    assert fleet.events(None, "host-unreachable") == []
    folder = rundir.of(config_mod.load(fleet.path)) / "ssh"
    assert sorted(p.name for p in folder.iterdir()) == ["w"]  # the watchdog's alone
