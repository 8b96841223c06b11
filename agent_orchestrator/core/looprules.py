"""The loop rules (SPEC §4 handoff and phase advance), pure like rules.decide.

- phase changed by the operator (`agents phase set/next`) → the loop agents restart on it;
- phase file corrupt → reported once per content; no phase change or advance until fixed;
- handoff: each ping the shell relayed from origin/main (claim → reviewer, review → builder,
  inbox → its target) goes to its target agent's inbox, naming the commit: typed at the
  agent's next idle look, never into a limit or a dialog;
- DONE: the current phase's pushed status file says DONE with real text; if the phase has
  `verify` commands they must have passed at that very commit (the shell runs them), else
  the builder is told what failed, once per commit;
- advance (`auto_advance`): next phase saved, loop agents restarted on it (new kickoff, new
  models); after the last: SEQUENCE-COMPLETE, loop agents stopped, the `on_complete` agent
  started; a phase appended later resumes the loops on it, and `agents phase set N` after
  the end runs phase N again (SEQUENCE-COMPLETE removed), the last one too when the
  operator's request file says so (`LoopSeen.rerun`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from agent_orchestrator.config import Agent, Config
from agent_orchestrator.core import screenrules
from agent_orchestrator.core.decisions import (
    CompleteSequence,
    Queue,
    SetPhase,
    Stop,
    Tick,
    Type,
    Unqueue,
)
from agent_orchestrator.core.memory import AgentMemory
from agent_orchestrator.core.observed import LoopSeen, Pane
from agent_orchestrator.core.restarts import start


def loop_agents(config: Config, stopped: frozenset[str]) -> list[Agent]:
    return [a for a in config.agents if a.kind == "loop" and a.enabled and a.name not in stopped]


def loop_started(config: Config, panes: Mapping[str, Pane]) -> float | None:
    """When the first running loop agent's session was created (epoch seconds), or None
    when none runs: what they pushed since then is theirs to relay (gitrelay.poll)."""
    times = [pane.created for agent in config.agents if agent.kind == "loop"
             if (pane := panes.get(agent.session)) is not None and pane.created > 0]
    return min(times, default=None)


def resolve(config: Config, target: str) -> Agent | None:
    """A ping's target: a loop agent's name, else the loop agent with that role."""
    loops = [a for a in config.agents if a.kind == "loop"]
    return next((a for a in loops if a.name == target), None) or \
        next((a for a in loops if a.role == target), None)


def apply(tick: Tick) -> None:
    loop, seen = tick.config.loop, tick.observed.loop
    if loop is None or not loop.phases or seen is None:
        return
    index = seen.phase_index
    if tick.loop.phase is None:  # the phase `agents up` started them on (the file's)
        tick.loop = replace(tick.loop, phase=index)
    if _phase_file_corrupt(tick, seen):
        if seen.head is not None:  # pings name commits, not phases: they still go
            _relay(tick)
        return
    if _moved_by_operator(tick, index) or seen.rerun and tick.loop.sequence_complete:
        if tick.loop.sequence_complete:  # `agents phase set N` after the end: run N again
            tick.loop = replace(tick.loop, sequence_complete=False)
            tick.actions.append(SetPhase(index, "the operator set the phase after the "
                                         "sequence completed", reopen=True))
        _start_loops(tick, index, f"phase set to {index + 1}/{len(loop.phases)} "
                     f"{loop.phases[index].id}")
    if seen.head is not None:
        _relay(tick)
    if tick.loop.sequence_complete:
        if index + 1 < len(loop.phases):  # a phase was appended: resume the loops on it
            tick.actions.append(SetPhase(index + 1, "a phase was added after completion"))
            tick.loop = replace(tick.loop, sequence_complete=False)
            _start_loops(tick, index + 1, f"resuming on the added phase "
                         f"{loop.phases[index + 1].id}", kind="phase-resumed")
        return
    if seen.done_checked:
        tick.loop = replace(tick.loop, done_note=_done_note(tick, seen.done_sha))
    if seen.done_sha is not None and loop.auto_advance:
        _maybe_advance(tick, index, seen.done_sha)


def _moved_by_operator(tick: Tick, index: int) -> bool:
    """The phase file names another phase than the loops run: `agents phase set/next`. Not
    when the remembered phase was removed from the config since (the file's index past the
    end reads as the last phase): after the sequence completed that is no request to run
    the last phase again."""
    loop = tick.config.loop
    assert loop is not None
    known = tick.loop.phase
    if known is None or known == index:
        return False
    return not (known >= len(loop.phases) and index == len(loop.phases) - 1
                and tick.loop.sequence_complete)


def _phase_file_corrupt(tick: Tick, seen: LoopSeen) -> bool:
    """True while the phase file gives no index: reported once per distinct content, and
    nothing that depends on the phase moves (no phase change, advance or resume) — the loops
    keep the phase they were started on until the file is fixed or `agents phase set N`
    rewrites it. The fix is reported too."""
    loop = tick.config.loop
    assert loop is not None
    if seen.phase_problem is None:
        if tick.loop.phase_problem is not None:
            tick.loop = replace(tick.loop, phase_problem=None)
            tick.event(None, "phase-file-recovered", f"the phase file reads phase "
                       f"{seen.phase_index + 1}/{len(loop.phases)} "
                       f"{loop.phases[seen.phase_index].id} again")
        return False
    if tick.loop.phase_problem != seen.phase_problem:
        tick.loop = replace(tick.loop, phase_problem=seen.phase_problem)
        kept = loop.phases[seen.phase_index].id
        tick.event(None, "phase-file-corrupt", f"{seen.phase_problem}; the loop stays on "
                   f"phase {seen.phase_index + 1}/{len(loop.phases)} {kept} (no phase change "
                   "or advance) until it is fixed or `agents phase set N` rewrites it")
    return True


def _done_note(tick: Tick, done_sha: str | None) -> str:
    """`DONE pending`, `DONE, verifying`, `DONE, verify failed` or `DONE` for the header."""
    seen = tick.observed.loop
    if done_sha is None:
        return "DONE pending"
    if seen is not None and seen.verify is not None and not seen.verify.ok:
        return "DONE, verify failed"
    loop = tick.config.loop
    gated = loop is not None and seen is not None and loop.phases[seen.phase_index].verify
    if gated and (seen is None or seen.verify is None):
        return "DONE, verifying"
    return "DONE"


def _relay(tick: Tick) -> None:
    seen = tick.observed.loop
    assert seen is not None
    for ping in seen.pings:
        agent = resolve(tick.config, ping.target)
        if agent is None or agent.name in tick.observed.stopped:
            tick.event(None, "handoff-unrouted", f"no running loop agent '{ping.target}' "
                       f"for {ping.sha[:12]}")
            continue
        queued = _tell(tick, agent, "handoff", ping.text)
        tick.event(agent.name, "handoff-ping", ping.text + (
            " (queued for its next idle moment)" if queued else ""))
    tick.loop = replace(tick.loop, seen_sha=seen.head)


def _tell(tick: Tick, agent: Agent, reason: str, text: str) -> bool:
    """Have `text` reach the agent: through its inbox, typed at its next idle look (a
    limited agent, or one at a dialog, is never typed into; the text survives a restart),
    or typed at once to an agent the screen rules never judge. True when queued."""
    if screenrules.takes_queue(tick.config, agent):
        tick.actions.append(Queue(agent.name, reason, text))
        return True
    tick.actions.append(Type(agent.name, reason, text=text))
    return False


def _maybe_advance(tick: Tick, index: int, sha: str) -> None:
    loop, seen = tick.config.loop, tick.observed.loop
    assert loop is not None and seen is not None
    phase = loop.phases[index]
    if phase.verify:
        result = seen.verify
        if result is None or result.sha != sha:
            return  # the shell runs the gates at this commit; decide again then
        if not result.ok:
            if tick.loop.verify_failed_sha != sha:
                tick.loop = replace(tick.loop, verify_failed_sha=sha)
                what = "timed out" if result.timed_out else f"exited {result.exit_code}"
                tail = result.output.strip()[-600:]
                tick.event(None, "verify-failed", f"phase {phase.id} DONE at {sha[:12]} but "
                           f"`{result.command}` {what}: {tail}")
                builder = _builder(tick.config)
                if builder is not None:
                    _tell(tick, builder, "verify failed", (
                        f"The watchdog ran the verify gates of phase {phase.id} at "
                        f"{sha[:12]} and `{result.command}` {what}. Output tail: "
                        f"{' '.join(tail.split())[-400:]} — fix it, push, and keep ## DONE "
                        "only when the gates pass."))
            return
    if index + 1 < len(loop.phases):
        nxt = loop.phases[index + 1]
        tick.actions.append(SetPhase(index + 1, f"phase {phase.id} DONE at {sha[:12]}"))
        _start_loops(tick, index + 1, f"phase {phase.id} DONE at {sha[:12]}; starting phase "
                     f"{index + 2}/{len(loop.phases)} {nxt.id}", kind="phase-advance")
        return
    tick.actions.append(CompleteSequence(f"last phase {phase.id} DONE at {sha[:12]}"))
    for agent in loop_agents(tick.config, frozenset()):
        tick.actions.append(Stop(agent.name, "sequence complete"))
    tick.loop = replace(tick.loop, sequence_complete=True)
    done = loop.on_complete
    tick.event(None, "sequence-complete", f"all {len(loop.phases)} phases done"
               + (f"; starting {done.run}" if done else ""))
    if done is not None and (runner := tick.config.agent(done.run)) is not None:
        tick.agents.setdefault(runner.name, AgentMemory())
        start(tick, runner, "start", "the sequence is complete", restart=True)


STALE_ON_PHASE_CHANGE = ("handoff", "verify failed")  # the reasons `_tell` queues with


def _start_loops(tick: Tick, index: int, reason: str, kind: str = "phase-changed") -> None:
    tick.loop = replace(tick.loop, phase=index, verify_failed_sha=None, done_note=None)
    tick.event(None, kind, reason)
    for agent in loop_agents(tick.config, frozenset()):  # a stopped one's inbox too
        tick.actions.append(Unqueue(agent.name, STALE_ON_PHASE_CHANGE))
    for agent in loop_agents(tick.config, tick.observed.stopped):
        tick.agents.setdefault(agent.name, AgentMemory())
        start(tick, agent, "restart", f"loop on phase {index + 1}", restart=True)


def _builder(config: Config) -> Agent | None:
    handoff = config.loop.handoff if config.loop else None
    target = handoff.review_pings if handoff else "builder"
    return resolve(config, target) or resolve(config, "builder")
