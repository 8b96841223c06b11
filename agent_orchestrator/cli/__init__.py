"""The `agents` verbs and everything they print."""
