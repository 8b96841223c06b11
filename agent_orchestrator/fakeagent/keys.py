"""Terminal input into key events: typed text, bracketed pastes, Enter, Backspace, Esc,
Ctrl-C; other escape sequences swallowed."""

from __future__ import annotations

import enum
from dataclasses import dataclass

ESC_TIMEOUT = 0.05  # a lone ESC not followed by more bytes within this is the Esc key
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class KeyKind(enum.Enum):
    """What a decoded key event does."""

    TEXT = "text"  # printable text typed
    PASTE = "paste"  # bracketed-paste content, newlines as "\n"
    NEWLINE = "newline"  # Alt/Meta-Enter: a newline in the input
    ENTER = "enter"
    BACKSPACE = "backspace"
    INTERRUPT = "interrupt"  # Ctrl-C
    ESCAPE = "escape"  # a lone Esc key


@dataclass(frozen=True)
class Key:
    """One key event; ``text`` is set for TEXT and PASTE."""

    kind: KeyKind
    text: str = ""


class _State(enum.Enum):
    NORMAL = 0
    ESC = 1
    CSI = 2
    SS3 = 3
    PASTE = 4


class KeyParser:
    """Turn decoded terminal input into key events, following bracketed pastes.

    Escape sequences other than paste brackets (arrows, function keys, focus reports) are
    swallowed. A lone ESC is held until more input arrives or ``flush`` is called.
    """

    def __init__(self) -> None:
        self._state = _State.NORMAL
        self._seq = ""
        self._paste = ""
        self._keys: list[Key] = []
        self._text: list[str] = []

    @property
    def pending_escape(self) -> bool:
        """True while a lone ESC waits to learn whether a sequence follows."""
        return self._state is _State.ESC

    def flush(self) -> list[Key]:
        """Call when no input followed a lone ESC: it was the Esc key."""
        if self._state is _State.ESC:
            self._state = _State.NORMAL
            return [Key(KeyKind.ESCAPE)]
        return []

    def feed(self, data: str) -> list[Key]:
        """Parse decoded input; returns the key events it completes."""
        i = 0
        while i < len(data):
            if self._state is _State.PASTE:
                i = self._feed_paste(data, i)
            else:
                self._feed_char(data[i])
                i += 1
        self._end_text()
        keys, self._keys = self._keys, []
        return keys

    def _emit(self, kind: KeyKind, text: str = "") -> None:
        self._end_text()
        self._keys.append(Key(kind, text))

    def _end_text(self) -> None:
        if self._text:
            self._keys.append(Key(KeyKind.TEXT, "".join(self._text)))
            self._text = []

    def _feed_paste(self, data: str, start: int) -> int:
        """Collect paste content from ``data[start:]``; returns where parsing resumes."""
        scan_from = max(len(self._paste) - len(PASTE_END) + 1, 0)
        self._paste += data[start:]
        end = self._paste.find(PASTE_END, scan_from)
        if end < 0:
            return len(data)
        content = self._paste[:end].replace("\r\n", "\n").replace("\r", "\n")
        rest = self._paste[end + len(PASTE_END) :]
        self._paste = ""
        self._state = _State.NORMAL
        self._emit(KeyKind.PASTE, content)
        return len(data) - len(rest)

    def _feed_char(self, ch: str) -> None:
        state = self._state
        if state is _State.NORMAL:
            self._feed_normal(ch)
        elif state is _State.ESC:
            self._feed_after_esc(ch)
        elif state is _State.CSI:
            if not " " <= ch <= "\x7e":  # not a CSI byte: the sequence was broken off
                self._state, self._seq = _State.NORMAL, ""
                self._feed_normal(ch)
                return
            self._seq += ch
            if "\x40" <= ch <= "\x7e":
                self._state = _State.PASTE if "\x1b[" + self._seq == PASTE_START else _State.NORMAL
                self._seq = ""
            elif len(self._seq) > 32:
                self._state = _State.NORMAL
                self._seq = ""
        else:  # SS3: one more character ends it
            self._state = _State.NORMAL

    def _feed_normal(self, ch: str) -> None:
        if ch == "\x1b":
            self._end_text()
            self._state = _State.ESC
        elif ch in "\r\n":
            self._emit(KeyKind.ENTER)
        elif ch in "\x7f\x08":
            self._emit(KeyKind.BACKSPACE)
        elif ch == "\x03":
            self._emit(KeyKind.INTERRUPT)
        elif ch >= " ":
            self._text.append(ch)

    def _feed_after_esc(self, ch: str) -> None:
        if ch == "[":
            self._state, self._seq = _State.CSI, ""
        elif ch == "O":
            self._state = _State.SS3
        elif ch in "\r\n":
            self._state = _State.NORMAL
            self._emit(KeyKind.NEWLINE)
        elif ch == "\x1b":
            self._emit(KeyKind.ESCAPE)  # the first ESC was a key; the second may start more
        else:
            self._state = _State.NORMAL  # Alt+key: ignored
