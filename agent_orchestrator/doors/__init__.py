"""One module per outside system; they speak the core's types."""
