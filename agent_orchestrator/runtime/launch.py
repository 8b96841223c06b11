"""How an agent or service is started (SPEC §3): kickoff text, command, files, tmux session.

`plan_agent` is pure: it turns config (+ phase index and resume id) into a `LaunchPlan`;
`plan_for` is the plan of an agent starting now (both `agents up` and the watchdog use it).
`start` does the I/O: kickoff file `kickoff-<session>.txt` and a launch spec read by boot.py,
both in the fleet's runtime folder (doors/rundir.py: in memory, so a full log disk cannot stop
a restart), session log `<log_dir>/<session>.log`, and the tmux session itself.

Deliveries:
- arg:  bin [resume] [remote-control] [model] [flags] <kickoff text>, exec'd with no shell;
- ping: `preamble; [model env] attach` through /bin/sh, then boot.py types the boot line;
- exec: the `bin` template through /bin/sh in the agent's dir, values shell-quoted.
`{kickoff}` and `{kickoff_file}` are the kickoff file's path; `{kickoff_text}` is the text.
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from agent_orchestrator.config import Agent, Backend, Config, Service, filetrust
from agent_orchestrator.config.presets import SKIP_PERMISSIONS
from agent_orchestrator.config.templates import (
    fill_python,
    render_boot_line,
    render_shell,
    render_words,
)
from agent_orchestrator.doors import (
    cgroups,
    fdlimit,
    logcap,
    markers,
    proctree,
    rundir,
    signals,
    worktrees,
)
from agent_orchestrator.doors.files import touch_private, write_atomic
from agent_orchestrator.doors.tmux import Tmux
from agent_orchestrator.runtime import boot, mcpwiring, signalwiring

# Linux's MAX_ARG_STRLEN (32 pages) less the terminating NUL: the longest single argument.
MAX_ARGUMENT = 128 * 1024 - 1
# Stored in state/<agent>.id instead of an id: "continue the latest conversation".
CONTINUE_LAST = "last"


@dataclass(frozen=True)
class LaunchPlan:
    """Everything needed to start one session; `argv` is exec'd as is by boot.py."""

    session: str
    argv: tuple[str, ...]
    cwd: Path
    env: tuple[tuple[str, str], ...] = ()
    kickoff: str = ""
    boot_line: str | None = None
    connect_delay: float = 0  # read only with a boot_line: plan_agent sets the backend's
    submit_key: str = "Enter"
    boot_guard: tuple[tuple[str, str], ...] = ()  # with a boot_line: boot.boot_guard
    new_resume_id: tuple[Path, str] | None = None  # (state file, id) pinned by this launch
    files: tuple[tuple[Path, bytes], ...] = ()  # written (private) before the start
    forget: tuple[Path, ...] = ()  # removed before the start: the previous run's signals


def launch_dir(config: Config) -> Path:
    """Where the kickoff files and launch specs go (created): the fleet's runtime folder."""
    return rundir.of(config)


def kickoff_file(config: Config, session: str) -> Path:
    return launch_dir(config) / f"kickoff-{session}.txt"


def spec_file(config: Config, session: str) -> Path:
    """The launch spec boot.py reads and deletes (it holds the prompt)."""
    return launch_dir(config) / f"launch-{session}.json"


def cgroup_file(config: Config, session: str) -> Path:
    """Where boot.py writes down the cgroup of the session's run (doors/cgroups.py)."""
    return launch_dir(config) / f"cgroup-{session}"


def log_file(config: Config, session: str) -> Path:
    return config.log_dir / f"{session}.log"


def _fill(text: str, values: dict[str, str]) -> str:
    """Replace only the given `{name}`s: kickoff templates are markdown full of braces."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def kickoff_text(config: Config, agent: Agent, phase_index: int = 0) -> str:
    """The agent's kickoff prompt. Loop agents: the rendered kickoff template followed by
    their role prompt; others: `prompt` or the content of `prompt_file` ("" when neither).
    Files are read through filetrust: one changed into an untrusted state since the config
    was loaded raises filetrust.Untrusted rather than being sent."""
    if agent.kind == "loop" and config.loop is not None:
        loop = config.loop
        phase = loop.phases[phase_index] if 0 <= phase_index < len(loop.phases) else None
        values = {"phase_id": phase.id if phase else "", "plan": phase.plan if phase else "",
                  "status": phase.status if phase else "", "role": agent.role or ""}
        parts = []
        if loop.kickoff_template is not None:
            parts.append(_fill(filetrust.read_text(loop.kickoff_template), values))
        role_file = loop.roles_dir / f"{agent.role}.md"
        if role_file.is_file():  # rendered too: a role prompt may name the phase's files
            parts.append(_fill(filetrust.read_text(role_file), values))
        return "\n\n".join(p.rstrip("\n") for p in parts) + ("\n" if parts else "")
    if agent.prompt_file is not None:
        return filetrust.read_text(agent.prompt_file)
    return agent.prompt or ""


def agent_model(config: Config, agent: Agent, phase_index: int = 0) -> str | None:
    """The model after the current phase's override for the agent's role."""
    if agent.kind == "loop" and config.loop and 0 <= phase_index < len(config.loop.phases):
        return config.loop.phases[phase_index].model_for(agent.role) or agent.model
    return agent.model


def _resume_words(config: Config, agent: Agent, backend: Backend,
                  resume_id: str | None, new_id: Callable[[], str],
                  ) -> tuple[list[str], tuple[Path, str] | None]:
    """`resume = true`: resume the stored conversation, or pin a new one's id (where the
    CLI can, e.g. Claude Code's --session-id) so the next start resumes it. A CLI that can't
    pin one but can continue its latest conversation (`continue_flag`) gets CONTINUE_LAST
    stored on its first start, and that flag on the next ones (not on the first: with no
    conversation yet, `codex resume --last` has nothing to open)."""
    if not (agent.resume and backend.supports_resume):
        return [], None
    if resume_id == CONTINUE_LAST:
        return render_words(backend.continue_flag, {}), None
    if resume_id:
        return render_words(backend.resume_flag, {"id": resume_id}), None
    if backend.session_id_flag:
        pinned = new_id()
        return (render_words(backend.session_id_flag, {"id": pinned}),
                (markers.resume_id_file(config, agent.name), pinned))
    if backend.continue_flag:
        return [], (markers.resume_id_file(config, agent.name), CONTINUE_LAST)
    return [], None


def _check_argument_sizes(agent: Agent, argv: list[str]) -> None:
    """Refuse what exec would refuse (E2BIG): a pane that dies at once would only loop."""
    longest = max((len(w.encode("utf-8", "surrogateescape")) for w in argv), default=0)
    if longest > MAX_ARGUMENT:
        raise OSError(errno.E2BIG, f"{agent.name}: its kickoff is {longest:,} bytes: too long "
                      f"for one program argument (Linux limit {MAX_ARGUMENT + 1:,}); use "
                      'prompt_delivery = "ping" (the agent reads it from a file) or a shorter '
                      "prompt")


def _flag_words(flags: str, common: dict[str, str], kickoff: str) -> list[str]:
    """`flags` as argv words with the kickoff text as the last word, or, when `flags` places
    it (`--prompt={kickoff_text}`: a parser that takes a leading `-` for an option needs the
    text glued to its flag), in that word; such a word is left out when there is no kickoff.
    `{kickoff}` / `{kickoff_file}` in `common` are the kickoff file's path."""
    if "{kickoff_text}" not in flags:
        return render_words(flags, common) + ([kickoff] if kickoff else [])
    return render_words(flags, {**common, "kickoff_text": kickoff}, omit_empty="kickoff_text")


def plan_agent(config: Config, agent: Agent, phase_index: int = 0,
               resume_id: str | None = None,
               new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
               kickoff: str | None = None, kickoff_path: Path | None = None) -> LaunchPlan:
    """The launch plan of `agent`. Pure apart from reading prompt files, making the runtime
    folder its kickoff file's path names (`launch_dir`) and `new_id`. An agent on another
    host comes with its `kickoff` text (its prompt file is there) and the `kickoff_path`
    its host will write (runtime/remotelaunch.py)."""
    backend = config.backend(agent.backend)
    agent = replace(agent, dir=worktrees.work_dir(config, agent))  # its own checkout?
    if kickoff is None:
        kickoff = kickoff_text(config, agent, phase_index)
    file = str(kickoff_path or kickoff_file(config, agent.session))
    model = agent_model(config, agent, phase_index)
    env: list[tuple[str, str]] = []
    bin_text = fill_python(backend.bin, next(
        (h.python for h in config.hosts if h.name == agent.host), None))
    common = {"session": agent.session, "model": model or "", "dir": str(agent.dir)}
    boot_line = None
    resume_words, pinned = _resume_words(config, agent, backend, resume_id, new_id)
    if backend.skip_permissions:  # the user's documented opt-in (config checks the name)
        bin_text = f"{bin_text} {SKIP_PERMISSIONS[backend.name]}"
    wired = signalwiring.wiring(config, agent, backend)
    env += wired.env
    if backend.prompt_delivery == "arg":
        argv = (render_words(bin_text, {}) + list(wired.words)
                + list(mcpwiring.words(config, agent, backend)) + resume_words)
        if backend.remote_control:
            argv += render_words(backend.remote_control_flag, common)
        if model:
            argv += render_words(backend.model_flag, common)
        argv += _flag_words(backend.flags, {**common, "kickoff": file, "kickoff_file": file},
                            kickoff)
    elif backend.prompt_delivery == "exec":
        # `{kickoff}` is the FILE's path, as in the original tool, so its configs run
        # unchanged; the text is `{kickoff_text}` (SPEC §3).
        line = render_shell(bin_text, {**common, "kickoff": file, "kickoff_file": file,
                                       "kickoff_text": kickoff, "id": resume_id or ""})
        argv = ["/bin/sh", "-c", line]
    else:  # ping
        attach = render_shell(backend.attach, {"dir": str(agent.dir), "session": agent.session,
                                               "model": model or "", "kickoff_file": file,
                                               "kickoff": file},
                              raw={"bin": bin_text, "server": backend.server})
        env += _model_env(backend, model)
        line = f"{backend.preamble}; {attach}" if backend.preamble.strip() else attach
        argv = ["/bin/sh", "-c", line]
        boot_line = render_boot_line(backend.boot_line, file) if kickoff else None
    _check_argument_sizes(agent, argv)
    return LaunchPlan(session=agent.session, argv=tuple(argv), cwd=agent.dir, env=tuple(env),
                      kickoff=kickoff, boot_line=boot_line, connect_delay=backend.connect_delay,
                      submit_key=backend.submit_key, new_resume_id=pinned,
                      boot_guard=boot.boot_guard(backend) if boot_line else (),
                      files=wired.files,
                      forget=(signals.signal_file(signals.signals_dir(config.state_dir),
                                                  agent.name),))


def plan_for(config: Config, agent: Agent) -> LaunchPlan:
    """The plan of `agent` starting now: at the loop's saved phase, resuming its stored
    conversation (`resume = true`)."""
    return plan_agent(config, agent, markers.phase_index(config),
                      markers.resume_id(config, agent.name))


def _model_env(backend: Backend, model: str | None) -> list[tuple[str, str]]:
    """`model_env`: an env var name receiving the model, or "opencode" for the JSON form
    opencode reads (`OPENCODE_CONFIG_CONTENT`)."""
    if not model or not backend.model_env:
        return []
    if backend.model_env == "opencode":
        return [("OPENCODE_CONFIG_CONTENT", json.dumps({"model": model}))]
    return [(backend.model_env, model)]


def plan_service(config: Config, service: Service) -> LaunchPlan:
    return LaunchPlan(session=service.session, argv=("/bin/sh", "-c", service.command),
                      cwd=service.dir)


def start(tmux: Tmux, config: Config, plan: LaunchPlan, swept: bool = False) -> None:
    """Write the plan's files (all private) and start its tmux session. `swept`: the
    caller has just run `stop` for this session, so no leftover of an earlier run can be
    alive and the sweep for them (a scan of /proc) is skipped.

    Only the runtime folder's files (kickoff, launch spec) must be written: a resume id or
    the session log that cannot be (a full log disk) is skipped, and a plan file (hooks
    settings) an earlier start wrote the same is reused, so healing never depends
    on free space where logs live (the conversation is then not resumed next time; the
    log writer creates the log once it can).

    Raises TmuxError when tmux refuses (e.g. the session exists) and OSError when a file
    cannot be written.
    """
    keep_resume_id(plan)
    for path, data in plan.files:
        _write_or_reuse(path, data)
    for path in plan.forget:
        path.unlink(missing_ok=True)
    if plan.kickoff:
        write_atomic(kickoff_file(config, plan.session), plan.kickoff.encode("utf-8"))
    else:  # no kickoff: don't leave a previous configuration's prompt lying around
        kickoff_file(config, plan.session).unlink(missing_ok=True)
    spec = spec_file(config, plan.session)
    # Every session's processes carry its tag, so `stop` finds all of them, whatever started,
    # and this start's id, so what an earlier run left behind can be told apart (below).
    tag, launch_id = proctree.launch_tag(config.tmux_socket, plan.session), uuid.uuid4().hex
    env = dict(plan.env) | {proctree.TAG_VAR: tag, proctree.LAUNCH_VAR: launch_id}
    write_atomic(spec, json.dumps({
        "argv": list(plan.argv), "cwd": str(plan.cwd), "env": env,
        "boot_line": plan.boot_line, "connect_delay": plan.connect_delay,
        "submit_key": plan.submit_key, "boot_guard": dict(plan.boot_guard),
        # Not the watchdog's: a tmux server it starts again would be inside it.
        "cgroup": None if plan.session == config.watchdog_session else {
            "name": cgroups.run_name(config.tmux_socket, plan.session, launch_id),
            "record": str(cgroup_file(config, plan.session))}},
        ensure_ascii=False).encode("utf-8"))
    log = log_file(config, plan.session)
    with contextlib.suppress(OSError):
        touch_private(log)
    pipe = logcap.pipe_command(str(log), config.log_max_bytes, config.log_keep)
    fdlimit.raise_soft()  # a tmux server this starts inherits it: 2 descriptors a pane
    tmux.start(plan.session, [sys.executable, "-m", "agent_orchestrator.runtime.boot", str(spec)],
               pipe=pipe)
    # The session is ours now, so any other run's process carrying its tag is a leftover:
    # a daemon that outlived its killed session or tmux server (T24/T26 of the reliability
    # suite). Done after the start, not before, so a concurrent start is never hit.
    if not swept:
        proctree.terminate(proctree.tagged(tag, other_than=launch_id))
        cgroups.end_runs(cgroup_file(config, plan.session), config.tmux_socket, plan.session,
                         but=launch_id)


def keep_resume_id(plan: LaunchPlan) -> None:
    """Store the conversation id this launch pins (skipped when it cannot be written)."""
    if plan.new_resume_id is not None:
        id_file, pinned = plan.new_resume_id
        with contextlib.suppress(OSError):
            write_atomic(id_file, pinned.encode())


def _write_or_reuse(path: Path, data: bytes) -> None:
    """Write `path`, or, when that fails (a full disk), go on with the copy an earlier start
    wrote if it holds the same bytes (a hooks file is the same at every start)."""
    try:
        write_atomic(path, data)
    except OSError:
        try:
            same = path.read_bytes() == data
        except OSError:
            same = False
        if not same:
            raise


def stop(tmux: Tmux, config: Config, session: str) -> bool:
    """Kill a session and every process it started (re-parented daemons included).
    Returns whether the session existed."""
    tag = proctree.launch_tag(config.tmux_socket, session)
    # The tree is read before the kill: once the pane's process is gone, its orphans go to
    # init and only the tag (which a daemon may have dropped) still finds them. A remote
    # pane's pid names a process on another host: never looked up here.
    pane = tmux.snapshot().pane(session) if tmux.remote is None else None
    tree = proctree.descendants(pane.pid) if pane and not pane.dead and pane.pid > 0 else []
    existed = tmux.kill(session)
    proctree.terminate({*tree, *proctree.tagged(tag)})
    # What the tree and the tag missed (a daemon that outlived its agent's death): its cgroup.
    cgroups.end_runs(cgroup_file(config, session), config.tmux_socket, session)
    cgroup_file(config, session).unlink(missing_ok=True)
    # Killed before boot.py read its spec: don't leave the prompt lying around.
    spec_file(config, session).unlink(missing_ok=True)
    return existed
