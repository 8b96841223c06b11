"""An agent's own conversation record, read as turns (`agents transcript NAME`).

turns.py: the Turn model and the shortening shared by the readers; claude.py: Claude Code's
session files; codex.py: Codex's rollouts; read.py: a file of either format, whole or
followed; locate.py: which file is an agent's.
"""
