"""`python -m agent_orchestrator.fakeagent`: run the demo agent."""

from agent_orchestrator.fakeagent import main

if __name__ == "__main__":
    raise SystemExit(main())
