"""`python -m agent_orchestrator.fakeagent`: run the demo agent (see the package docstring)."""

from __future__ import annotations

import atexit
import os
import sys
import time

from agent_orchestrator.fakeagent.agent import AgentExit, FakeAgent
from agent_orchestrator.fakeagent.files import ControlFile, Recorder
from agent_orchestrator.fakeagent.options import parse_args
from agent_orchestrator.fakeagent.terminal import Runner, Terminal


def main(argv: list[str] | None = None) -> int:
    """Run the fake agent; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    opts = parse_args(args)
    recorder = Recorder(opts.record)
    recorder.write(event="start", argv=args, cwd=opts.cwd, pid=os.getpid())
    term = Terminal(sys.stdin.fileno(), sys.stdout.fileno())
    atexit.register(term.restore)
    try:
        runner = Runner(
            FakeAgent(opts, recorder, time.monotonic()), term, ControlFile(opts.control)
        )
        runner.install_signals()
        term.enter()
        runner.run()
    except AgentExit as exc:
        return exc.code
    finally:
        term.restore()
        recorder.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
