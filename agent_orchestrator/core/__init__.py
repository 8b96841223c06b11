"""Pure: the vocabulary and decide(); no I/O, no clock (see README, Design)."""
