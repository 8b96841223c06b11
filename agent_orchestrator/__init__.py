"""agent-orchestrator: run a fleet of AI coding agents in tmux and keep them working."""

__version__ = "0.1.0"
